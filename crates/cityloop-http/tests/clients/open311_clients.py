"""Drives a running cityloop with third-party Open311 clients from PyPI.

Reads with `georeport` (JSON or XML mode); posts the way the `open311` package (api_key and an empty
jurisdiction_id in the query string) and the `three` package (api_key in the form body) do, since no
Python 3 client on PyPI posts. Prints one JSON line with what it saw; any failed check raises.

usage: open311_clients.py ENDPOINT FORMAT API_KEY GRID_CODE
"""

import json
import sys

import requests
import xmltodict
from georeport import GeoReport


def as_list(value):
    """xmltodict gives a dict for one element and a list for several."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def posted_id(response, fmt):
    response.raise_for_status()
    if fmt == "json":
        answer = response.json()
        assert isinstance(answer, list) and len(answer) == 1, answer
        return answer[0]["service_request_id"]
    answer = as_list(xmltodict.parse(response.content)["service_requests"]["request"])
    assert len(answer) == 1, answer
    return answer[0]["service_request_id"]


def main():
    endpoint, fmt, key, grid = sys.argv[1:5]
    client = GeoReport(endpoint, api_key=key, output_format=fmt)

    services = as_list(client.get_service_list())
    codes = [s["service_code"] for s in services]
    assert "06005" in codes and "11001" in codes, codes
    bins = next(s for s in services if s["service_code"] == "06005")
    assert str(bins["metadata"]).lower() == "true", bins

    definition = client.get_service_definition("06005")
    attributes = definition["attributes"]
    if fmt == "xml":
        attributes = as_list(attributes["attribute"])
    question = attributes[0]
    assert question["code"] == "bin_kind", question
    values = question["values"] if fmt == "json" else as_list(question["values"]["value"])
    keys = [v["key"] for v in values]
    assert "kitchen" in keys, keys

    # As the `open311` package posts: api_key and an empty jurisdiction_id in the query string.
    first = posted_id(
        requests.post(
            f"{endpoint}/requests.{fmt}?jurisdiction_id=&api_key={key}",
            data={"service_code": "06005", "address_id": grid, "description": "垃圾桶满了没人清运",
                  "attribute[bin_kind]": "kitchen"},
        ),
        fmt,
    )
    # As the `three` package posts: api_key in the body, the address as address_string (here beside a grid).
    second = posted_id(
        requests.post(
            f"{endpoint}/requests.{fmt}",
            data={"api_key": key, "service_code": "11001", "address_id": grid, "address_string": "3号楼东侧",
                  "description": "路灯晚上不亮", "first_name": "Li", "last_name": "Lei", "phone": "13900001111"},
        ),
        fmt,
    )

    one = client.get_service_request(first)
    if isinstance(one, list):
        one = one[0]
    assert one["service_request_id"] == first, one
    assert one["status"] == "open" and one["service_code"] == "06005", one

    found = as_list(client.get_service_requests(service_code="06005", status="open"))
    assert first in [r["service_request_id"] for r in found], found
    both = as_list(client.get_service_requests(service_request_id=f"{first},{second}"))
    assert sorted(r["service_request_id"] for r in both) == sorted([first, second]), both
    for r in both:
        assert "13900001111" not in json.dumps(r, ensure_ascii=False), r

    print(json.dumps({"format": fmt, "services": len(services), "posted": [first, second],
                      "found": len(found)}))


if __name__ == "__main__":
    main()
