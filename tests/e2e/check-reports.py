#!/usr/bin/env python3
"""Check the events one install POSTed to the test receiver (httpd.py's JSON lines).

Usage: check-reports.py REPORTS PATH succeeded|failed [--exit-code N] [--token T]
Prints the event sequence; exits non-zero with the reason when the expectation fails:
- the final event is the expected one and it is the last by seq,
- seq numbers increase and every event has v, install_id (one per install), time, event,
- with --token: every request carried "Authorization: Bearer T".
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reports")
    ap.add_argument("path")
    ap.add_argument("expect", choices=["succeeded", "failed"])
    ap.add_argument("--exit-code", type=int)
    ap.add_argument("--token")
    a = ap.parse_args()
    try:
        lines = open(a.reports).read().splitlines()
    except FileNotFoundError:
        lines = []
    recs = [json.loads(l) for l in lines if l.strip()]
    recs = [r for r in recs if r["path"] == a.path]
    evs = [r["body"] for r in recs if isinstance(r["body"], dict)]
    evs.sort(key=lambda e: e.get("seq", -1))
    summary = " ".join(
        e.get("event", "?") + ("/" + e["stage"] if e.get("event") == "stage" and "stage" in e else "")
        for e in evs
    )
    print("  events to %s (%d): %s" % (a.path, len(evs), summary or "none"))
    errs = []
    if not evs:
        errs.append("no events received at %s" % a.path)
    else:
        last = evs[-1]
        if last.get("event") != a.expect:
            errs.append("last event is %r, expected %r" % (last.get("event"), a.expect))
        if a.expect == "failed":
            print("  failed: stage=%s exit_code=%s error=%s" % (
                last.get("stage"), last.get("exit_code"), str(last.get("error"))[:300]))
            if a.exit_code is not None and last.get("exit_code") != a.exit_code:
                errs.append("exit_code %r, expected %d" % (last.get("exit_code"), a.exit_code))
            if not last.get("log_tail"):
                errs.append("failed event has no log_tail")
        ids = {e.get("install_id") for e in evs}
        if len(ids) != 1:
            errs.append("%d different install_ids" % len(ids))
        for e in evs:
            for k in ("v", "install_id", "seq", "time", "event"):
                if k not in e:
                    errs.append("event %r lacks %r" % (e.get("event"), k))
        seqs = [e.get("seq") for e in evs]
        if len(set(seqs)) != len(seqs):
            errs.append("duplicate seq numbers: %s" % seqs)
    if a.token:
        bad = [r for r in recs if r.get("auth") != "Bearer " + a.token]
        if bad:
            errs.append("%d requests without the bearer token" % len(bad))
    for e in errs:
        print("  REPORT CHECK FAILED: " + e)
    sys.exit(1 if errs else 0)


main()
