"""The reducer of the fan_out example: totals the mappers' results per region."""


def handler(event, context):
    totals = {}
    for item in event["mapped"]:
        region = totals.setdefault(item["region"], {"orders": 0, "cents": 0})
        region["orders"] += 1
        region["cents"] += item["cents"]
    return {name: totals[name] for name in sorted(totals)}
