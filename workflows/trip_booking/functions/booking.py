"""Trip-booking functions for the saga example (docs/sagas.md).

Reservations get ids derived from the trip; the payment is declined when the
amount is over the card's limit. Each call logs one line (see --function-logs).
"""


class PaymentDeclined(Exception):
    pass


def _reserve(kind, event, detail):
    booking_id = "%s-%s" % (kind, event["trip"])
    print("reserved %s: %s" % (booking_id, detail))
    return {"reservationId": booking_id, "status": "RESERVED"}


def _release(kind, event):
    booking_id = event["reservationId"]
    print("released %s (%s)" % (booking_id, event.get("reason", "")))
    return {"reservationId": booking_id, "status": "RELEASED"}


def reserve_flight(event, context):
    return _reserve("flight", event, event["flight"])


def reserve_hotel(event, context):
    return _reserve("hotel", event, event["hotel"])


def reserve_car(event, context):
    return _reserve("car", event, event["car"])


def charge_payment(event, context):
    if event["amount"] > event["limit"]:
        raise PaymentDeclined("card limit %s is below the amount %s" % (event["limit"], event["amount"]))
    print("charged %s for trip %s" % (event["amount"], event["trip"]))
    return {"chargeId": "payment-" + event["trip"], "amount": event["amount"]}


def release_flight(event, context):
    return _release("flight", event)


def release_hotel(event, context):
    return _release("hotel", event)


def release_car(event, context):
    return _release("car", event)
