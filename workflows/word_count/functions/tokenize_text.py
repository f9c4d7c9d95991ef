import os
import re

# Read once per worker (the cold start), as on Lambda.
MIN_WORD_LENGTH = int(os.environ.get("MIN_WORD_LENGTH", "1"))


def handler(event, context):
    words = [w for w in re.findall(r"[A-Za-z']+", event["text"]) if len(w) >= MIN_WORD_LENGTH]
    print(f"{context.aws_request_id}: {len(words)} words")  # goes to stepwise-logs/Tokenize.log
    return {"words": words}
