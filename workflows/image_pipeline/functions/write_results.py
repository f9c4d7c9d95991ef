"""WriteResults, an exec function: reads the event on stdin, writes OUTPUT_DIR/<file name>.json,
prints the result on stdout. One process per invocation, as the exec runtime runs it."""
import json
import os
import sys

from common_paths import resolve


def main():
    event = json.load(sys.stdin)
    out_dir = resolve(event.get("outputDir") or os.environ.get("OUTPUT_DIR", "output"))
    os.makedirs(out_dir, exist_ok=True)
    record = {k: v for k, v in event.items() if k not in ("outputDir", "path")}
    target = os.path.join(out_dir, os.path.basename(event["file"]) + ".json")
    with open(target + ".tmp", "w") as f:  # written whole, then renamed: a reader never sees half a file
        json.dump(record, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(target + ".tmp", target)
    # Reported relative to the pipeline's folder when the output directory was given relative to it.
    shown = target if os.path.isabs(event.get("outputDir") or "") else os.path.relpath(target, resolve("."))
    json.dump({"resultFile": shown, "status": record.get("status", "processed")}, sys.stdout)


if __name__ == "__main__":
    main()
