// Stepwise's node runtime shim: loads a handler once, then serves invocations
// one at a time over a line-delimited JSON channel on fd 3.
//
//   node node_shim.js FILE.FUNCTION FUNCTION_NAME MEMORY_MB
//
// The working directory is the function's code directory. stdout and stderr
// are the function's log; the protocol never goes through them. The messages
// are those of python3_shim.py (see docs/functions.md). Handlers may be async
// (return a promise), or take a third `callback(error, result)` argument.
'use strict';
const fs = require('fs');
const path = require('path');
const url = require('url');

const CHANNEL = 3;

function send(message) {
  sendText(JSON.stringify(message));
}

function sendText(text) {
  const data = Buffer.from(text + '\n', 'utf8');
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += fs.writeSync(CHANNEL, data, offset, data.length - offset);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

let pending = Buffer.alloc(0);
const chunk = Buffer.alloc(1 << 16);
// The next line on the channel (blocking: between invocations the function is
// frozen, as on Lambda), or null at EOF.
function readLine() {
  for (;;) {
    const newline = pending.indexOf(10);
    if (newline >= 0) {
      const line = pending.subarray(0, newline).toString('utf8');
      pending = pending.subarray(newline + 1);
      return line;
    }
    let n;
    try {
      n = fs.readSync(CHANNEL, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN' || e.code === 'EINTR') continue;
      if (e.code === 'EOF') return null;
      throw e;
    }
    if (n === 0) return null;
    pending = Buffer.concat([pending, chunk.subarray(0, n)]);
  }
}

function errorOf(e, type, message) {
  if (e instanceof Error) {
    return {
      errorType: type || e.name || 'Error',
      errorMessage: message !== undefined ? message : e.message,
      // The shim's own frames are not the handler's business.
      stackTrace: typeof e.stack === 'string' ? e.stack.split('\n').filter((l) => !l.includes(__filename)) : [],
    };
  }
  // Something that is not an Error was thrown: Lambda names it by its type.
  return {errorType: type || typeof e, errorMessage: message !== undefined ? message : String(e), stackTrace: []};
}

class InitError extends Error {
  constructor(error) {
    super(error.errorMessage);
    this.error = error;
  }
}

async function load(spec) {
  const dot = spec.lastIndexOf('.');
  const modulePath = spec.slice(0, dot);
  const name = spec.slice(dot + 1);
  const base = path.resolve(process.cwd(), modulePath);
  let mod;
  try {
    const esm = ['.mjs'].map((e) => base + e).find((f) => fs.existsSync(f));
    mod = esm ? await import(url.pathToFileURL(esm).href) : require(base);
  } catch (e) {
    if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(base)) {
      throw new InitError(errorOf(e, 'Runtime.ImportModuleError', `Error: Cannot find module '${modulePath}'`));
    }
    if (e instanceof SyntaxError) {
      throw new InitError(errorOf(e, 'Runtime.UserCodeSyntaxError', `${e.name}: ${e.message}`));
    }
    throw new InitError(errorOf(e));
  }
  const handler = mod && mod[name];
  if (typeof handler !== 'function') {
    throw new InitError({errorType: 'Runtime.HandlerNotFound',
                         errorMessage: `${modulePath}.${name} is undefined or not exported`, stackTrace: []});
  }
  return handler;
}

function makeContext(functionName, memoryMb, requestId, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  return {
    functionName,
    functionVersion: '$LATEST',
    memoryLimitInMB: String(memoryMb),
    awsRequestId: requestId,
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:' + functionName,
    logGroupName: '/aws/lambda/' + functionName,
    logStreamName: 'stepwise',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

function call(handler, event, context) {
  if (handler.length >= 3) {
    return new Promise((resolve, reject) => {
      const r = handler(event, context, (err, result) => (err ? reject(err) : resolve(result)));
      if (r && typeof r.then === 'function') r.then(resolve, reject);
    });
  }
  return Promise.resolve().then(() => handler(event, context));
}

async function main() {
  const [spec, functionName, memoryMb] = process.argv.slice(2);
  let handler;
  try {
    handler = await load(spec);
  } catch (e) {
    send({type: 'init_error', error: e instanceof InitError ? e.error : errorOf(e)});
    process.exit(1);
  }
  send({type: 'ready'});
  for (;;) {
    const line = readLine();
    if (line === null) process.exit(0);
    const request = JSON.parse(line);
    const context = makeContext(functionName, Number(memoryMb), request.id, request.timeout_ms || 3000);
    let result;
    try {
      result = await call(handler, request.event, context);
    } catch (e) {
      send({id: request.id, ok: false, error: errorOf(e)});
      continue;
    }
    let reply;
    try {
      reply = JSON.stringify({id: request.id, ok: true, result: result === undefined ? null : result});
    } catch (e) {
      send({id: request.id, ok: false,
            error: errorOf(e, 'Runtime.MarshalError', 'Unable to stringify response body: ' + e.message)});
      continue;
    }
    sendText(reply);
  }
}

main();
