"""Reads this server's Open311 endpoint with the PyPI client `georeport` (pinned by
scripts/setup.sh), in JSON and in XML, as a third-party app would.

Usage: georeport_client.py ROOT_URL REQUEST_ID [REQUEST_ID ...]
Prints one JSON object with what the client read; exits non-zero if the client fails
(an XML answer that expat cannot parse raises here).
"""
import json
import sys

from georeport import GeoReport


def main() -> None:
    root, ids = sys.argv[1], sys.argv[2:]
    out = {}
    for output_format in ("json", "xml"):
        client = GeoReport(root, output_format=output_format)
        services = client.get_service_list()
        definition = client.get_service_definition("moi-truong")
        listed = client.get_service_requests(status="open,closed", service_code="moi-truong,giao-thong")
        if isinstance(listed, dict):  # xmltodict gives a lone element as a dict, not a list
            listed = [listed]
        one = [client.get_service_request(i) for i in ids]
        out[output_format] = {
            "services": sorted(s["service_code"] for s in services),
            "definition": definition["service_code"],
            "listed": sorted(r["service_request_id"] for r in listed),
            "descriptions": sorted(str(r.get("description")) for r in listed),
            "status_notes": {r["service_request_id"]: r["status_notes"] for r in one},
        }
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
