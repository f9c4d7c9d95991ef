"""Where the pipeline's files are: paths in events are relative to PIPELINE_DIR.

The functions run in their code directory (functions/); PIPELINE_DIR, set in
functions.json, is relative to it. Absolute paths are used as they are.
"""
import os


def resolve(path):
    base = os.environ.get("PIPELINE_DIR", ".")
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(os.getcwd(), base, path))
