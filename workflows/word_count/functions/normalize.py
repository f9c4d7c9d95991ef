def handler(event, context):
    return event["word"].strip("'").lower()
