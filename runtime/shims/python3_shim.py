# Stepwise's python3 runtime shim: loads a handler once, then serves
# invocations one at a time over a line-delimited JSON channel on fd 3.
#
#   python3 -u -B python3_shim.py MODULE.FUNCTION FUNCTION_NAME MEMORY_MB
#
# The working directory is the function's code directory. stdout and stderr
# are the function's log; the protocol never goes through them.
#   -> {"type":"ready"} | {"type":"init_error","error":{...}}   once, after loading
#   <- {"id":ID,"event":EVENT,"timeout_ms":N}                    one per invocation
#   -> {"id":ID,"ok":true,"result":R} | {"id":ID,"ok":false,"error":{...}}
# An error is {"errorMessage","errorType","stackTrace"}, as Lambda reports it.
# EOF on fd 3 ends the worker. docs/functions.md describes the protocol.
import importlib
import json
import os
import sys
import time
import traceback

CHANNEL = 3


def send(message):
    data = (json.dumps(message, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")
    view = memoryview(data)
    while view:
        written = os.write(CHANNEL, view)
        view = view[written:]


def lines():
    pending = b""
    while True:
        newline = pending.find(b"\n")
        if newline >= 0:
            line, pending = pending[:newline], pending[newline + 1:]
            yield line
            continue
        chunk = os.read(CHANNEL, 1 << 16)
        if not chunk:
            return
        pending += chunk


def error_of(exc, error_type=None, message=None):
    # The shim's own frames are not the handler's business.
    tb = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename != __file__]
    return {
        "errorMessage": str(exc) if message is None else message,
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_list(tb),
    }


class Context:
    """What Lambda's Python runtime passes as `context`."""

    def __init__(self, function_name, memory_mb, request_id, timeout_ms):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
        self.log_group_name = "/aws/lambda/" + function_name
        self.log_stream_name = "stepwise"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_ms / 1000.0

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load(spec):
    module_name, _, function_name = spec.rpartition(".")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InitError(error_of(exc, "Runtime.ImportModuleError",
                                 "Unable to import module '%s': %s" % (module_name, exc)))
    except SyntaxError as exc:
        raise InitError(error_of(exc, "Runtime.UserCodeSyntaxError",
                                 "Syntax error in module '%s': %s" % (module_name, exc)))
    except Exception as exc:  # the module raised while loading
        raise InitError(error_of(exc))
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise InitError({"errorMessage": "Handler '%s' missing on module '%s'" % (function_name, module_name),
                         "errorType": "Runtime.HandlerNotFound", "stackTrace": []})
    return handler


class InitError(Exception):
    def __init__(self, error):
        super().__init__(error["errorMessage"])
        self.error = error


def main():
    spec, function_name, memory_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sys.path.insert(0, os.getcwd())
    try:
        handler = load(spec)
    except InitError as exc:
        send({"type": "init_error", "error": exc.error})
        return 1
    send({"type": "ready"})
    for line in lines():
        request = json.loads(line)
        request_id = request["id"]
        context = Context(function_name, memory_mb, request_id, request.get("timeout_ms", 3000))
        try:
            result = handler(request["event"], context)
        except Exception as exc:
            send({"id": request_id, "ok": False, "error": error_of(exc)})
            continue
        try:
            send({"id": request_id, "ok": True, "result": result})
        except (TypeError, ValueError) as exc:
            send({"id": request_id, "ok": False,
                  "error": error_of(exc, "Runtime.MarshalError", "Unable to marshal response: %s" % exc)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
