"""Checks a captured driftgauge webhook with independent implementations.

Reads one JSON object on stdin:
  {"secret": "whsec_...", "headers": {...}, "body": "<exact request body>",
   "sign": {"id": "...", "timestamp": 1614265330, "body": "..."}}

1. Verifies the Standard Webhooks signature with the reference `standardwebhooks`
   package (raises on a bad signature or a stale timestamp).
2. Parses the request as a structured-mode CloudEvent with the `cloudevents` SDK and
   checks the attributes driftgauge promises.
3. Signs `sign` with the reference package and prints the signature, so the Rust side
   can compare it with its own.

Prints `ok <event id> <signature>` and exits 0 on success.
"""

import json
import sys
from datetime import datetime, timezone

from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from standardwebhooks.webhooks import Webhook


def main() -> int:
    req = json.load(sys.stdin)
    headers = req["headers"]
    body = req["body"].encode("utf-8")
    hook = Webhook(req["secret"])

    hook.verify(body, headers)

    event = from_http_event(HTTPMessage(headers=headers, body=body))
    problems = []
    if event.get_specversion() != "1.0":
        problems.append(f"specversion {event.get_specversion()!r}")
    if event.get_id() != headers["webhook-id"]:
        problems.append("event id differs from webhook-id")
    if event.get_type() != "dev.driftgauge.retrain.requested":
        problems.append(f"type {event.get_type()!r}")
    if event.get_datacontenttype() != "application/json":
        problems.append(f"datacontenttype {event.get_datacontenttype()!r}")
    if event.get_time() is None or event.get_time().tzinfo is None:
        problems.append("time missing or without zone")
    data = event.get_data()
    for field in ("rule", "severity", "window", "signals", "baseline_version", "dashboard_url"):
        if not isinstance(data, dict) or field not in data:
            problems.append(f"data.{field} missing")
    if problems:
        print("; ".join(problems), file=sys.stderr)
        return 1

    s = req["sign"]
    at = datetime.fromtimestamp(s["timestamp"], tz=timezone.utc)
    signature = hook.sign(msg_id=s["id"], timestamp=at, data=s["body"])
    print("ok", event.get_id(), signature)
    return 0


if __name__ == "__main__":
    sys.exit(main())
