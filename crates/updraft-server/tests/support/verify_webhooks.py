"""Verifies webhook deliveries with the Standard Webhooks reference library
(`standardwebhooks` from PyPI, which .ci/run installs): an implementation
independent of the server's. Reads a JSON list of {"secret", "id",
"timestamp", "signature", "body"} on stdin; prints a JSON list of booleans,
one per delivery: whether `secret` verifies it."""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

out = []
for d in json.load(sys.stdin):
    headers = {
        "webhook-id": d["id"],
        "webhook-timestamp": d["timestamp"],
        "webhook-signature": d["signature"],
    }
    try:
        Webhook(d["secret"]).verify(d["body"], headers)
        out.append(True)
    except WebhookVerificationError:
        out.append(False)
print(json.dumps(out))
