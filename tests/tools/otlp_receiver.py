#!/usr/bin/python3
"""A local OTLP/HTTP logs receiver for tests/e2e/daemon_otlp.sh.

Decodes each POST /v1/logs body with Debian's python3-opentelemetry-proto (the
generated ExportLogsServiceRequest, independent of ctxtrace's protobuf-c
encoder) and appends one JSON line per log record to OUT: every field, with
the resource's attributes. Each request is also logged to OUT.requests.

  otlp_receiver.py PORTFILE OUT [--fail N] [--status CODE] [--slow SECONDS]

--fail N: answer the first N requests with --status (default 500), then 200.
--fail -1: always. --slow: sleep before answering. The chosen port is written
to PORTFILE once listening.
"""
import argparse
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.common.v1 import common_pb2


def value(v: common_pb2.AnyValue):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind) if kind else None


def attrs(kvs):
    return {kv.key: value(kv.value) for kv in kvs}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("portfile")
    ap.add_argument("out")
    ap.add_argument("--fail", type=int, default=0)
    ap.add_argument("--status", type=int, default=500)
    ap.add_argument("--slow", type=float, default=0)
    a = ap.parse_args()
    state = {"n": 0}

    class H(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state["n"] += 1
            n = state["n"]
            if a.slow:
                time.sleep(a.slow)
            fail = a.fail < 0 or n <= a.fail
            code = a.status if fail else 200
            with open(a.out + ".requests", "a") as f:
                f.write(json.dumps({"n": n, "path": self.path, "status": code,
                                    "content_type": self.headers.get("Content-Type"),
                                    "bytes": len(body)}) + "\n")
            if not fail and self.path == "/v1/metrics":
                # OTLP/JSON, parsed strictly by protobuf's own JSON mapping.
                req = json_format.Parse(body.decode(), metrics_service_pb2.ExportMetricsServiceRequest())
                with open(a.out + ".metrics", "a") as f:
                    for rm in req.resource_metrics:
                        for sm in rm.scope_metrics:
                            for m in sm.metrics:
                                kind = m.WhichOneof("data")
                                data = getattr(m, kind)
                                f.write(json.dumps({
                                    "request": n, "resource": attrs(rm.resource.attributes),
                                    "scope": sm.scope.name, "name": m.name, "description": m.description,
                                    "type": kind,
                                    "monotonic": getattr(data, "is_monotonic", None),
                                    "temporality": getattr(data, "aggregation_temporality", None),
                                    "points": [{"attributes": attrs(p.attributes), "value": p.as_double,
                                                "start": p.start_time_unix_nano, "time": p.time_unix_nano}
                                               for p in data.data_points],
                                }) + "\n")
            elif not fail:
                req = logs_service_pb2.ExportLogsServiceRequest()
                req.ParseFromString(body)
                with open(a.out, "a") as f:
                    for rl in req.resource_logs:
                        res = attrs(rl.resource.attributes)
                        for sl in rl.scope_logs:
                            for lr in sl.log_records:
                                f.write(json.dumps({
                                    "request": n,
                                    "resource": res,
                                    "scope": {"name": sl.scope.name, "version": sl.scope.version},
                                    "time_unix_nano": lr.time_unix_nano,
                                    "observed_time_unix_nano": lr.observed_time_unix_nano,
                                    "severity_number": lr.severity_number,
                                    "severity_text": lr.severity_text,
                                    "event_name": lr.event_name,
                                    "body": value(lr.body),
                                    "attributes": attrs(lr.attributes),
                                }) + "\n")
            out = b"" if fail else (b"{}" if self.path == "/v1/metrics" else
                                    logs_service_pb2.ExportLogsServiceResponse().SerializeToString())
            self.send_response(code)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    with open(a.portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(a.portfile + ".tmp", a.portfile)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
