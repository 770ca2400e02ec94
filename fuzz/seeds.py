#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/ (see docs/fuzzing.md):
the gateway fixtures' bodies, the shipped flows with their French texts, the flow example of
docs/flow-format.md, and the `when` conditions of the flows, fixtures and docs."""

import hashlib
import pathlib
import random
import re

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


def write(target, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def body(request):
    raw = request.read_bytes()
    for sep in (b"\r\n\r\n", b"\n\n"):
        if sep in raw:
            return raw.split(sep, 1)[1]
    return b""


# Gateways: a zero control byte (every control at its default: POST, no action, no query, a
# valid Twilio signature) then the body. Every gateway target gets every gateway's bodies.
bodies = [body(p) for p in sorted((ROOT / "tests/fixtures").glob("*/*.request.http"))]
USSD_TARGETS = {  # the targets of the USSD gateways added later, and their fixtures
    "gateway_hubtel": "hubtel-programmable",
    "gateway_hubtel_legacy": "hubtel-ussd-legacy",
    "gateway_comviva": "comviva-flares-freeflow",
    "gateway_generic": "generic-con-end-get",
    "gateway_infobip": "infobip-ussd-legacy",
    "gateway_nalo": "nalo-ussd",
}
for target in ("gateway_africastalking_ussd", "gateway_africastalking_voice", "gateway_twilio",
               *USSD_TARGETS):
    for b in bodies:
        write(target, b"\0" + b)


# The USSD targets' own fixtures as they were sent: control bytes choosing the request's method,
# action and query among the target's (`Choices::METHODS`, and its `ACTIONS` and `QUERIES`
# lists, read from its source: one byte `i` picks the `i`-th), then the body. A query of the
# target's list is also sent as a POST body (Comviva and the generic gateway read both).
METHODS = ["POST", "GET", "HEAD", "PUT"]


def rust_list(source, name):
    block = re.search(r"const %s: &\[&str\] = &\[(.*?)\];" % name, source, re.S).group(1)
    return re.findall(r'"((?:[^"\\]|\\.)*)"', block)


for target, fixture in USSD_TARGETS.items():
    source = (FUZZ / "fuzz_targets" / f"{target}.rs").read_text()
    actions, queries = rust_list(source, "ACTIONS"), rust_list(source, "QUERIES")
    for request in sorted((ROOT / "tests/fixtures" / fixture).glob("*.request.http")):
        method, target_uri = request.read_text().split(" ", 2)[:2]
        path, _, query = target_uri.partition("?")
        action = next((i for i, a in enumerate(actions) if a and path.endswith("/" + a)), 0)
        control = [METHODS.index(method), action, queries.index(query) if query in queries else 0]
        write(target, bytes([len(control)] + control) + body(request))
    for query in queries[1:]:
        write(target, b"\0" + query.encode())


# Flows: TOML, 0xFF, French texts. The shipped flows offer three languages; the target writes
# French only, so each is also given as a French-only flow (which loads and is walked).
def french_only(toml):
    toml = re.sub(r'(?m)^languages = .*$', 'languages = ["fr"]', toml)
    return re.sub(r'(?m)^default_language = .*\n', "", toml)


flows = [
    (ROOT / "flows/kufatilia.toml", ROOT / "locales/fr/kufatilia.ftl"),
    (ROOT / "flows/connectivity.toml", ROOT / "locales/fr/connectivity.ftl"),
    (ROOT / "tests/fixtures/at-flow/signal.toml", ROOT / "tests/fixtures/at-flow/fr/signal.ftl"),
]
for toml_path, ftl_path in flows:
    toml, ftl = toml_path.read_text(), ftl_path.read_bytes()
    write("flow_loader", toml.encode() + b"\xff" + ftl)
    write("flow_loader", french_only(toml).encode() + b"\xff" + ftl)
    write("flow_loader", french_only(toml).encode() + b"\xff" + ftl + b"\xff1\n2\n1\n3\n0\n98\n")
doc = (ROOT / "docs/flow-format.md").read_text()
blocks = re.findall(r"```(toml|ftl)\n(.*?)```", doc, re.S)
doc_toml = next(b for k, b in blocks if k == "toml" and "[[step]]" in b)
doc_ftl = next(b for k, b in blocks if k == "ftl")
write("flow_loader", french_only(doc_toml).encode() + b"\xff" + doc_ftl.encode())

# The limits on nesting (docs/fuzzing.md, findings): a French text and a condition just past them.
kuf_toml = french_only((ROOT / "flows/kufatilia.toml").read_text()).encode()
kuf_ftl = (ROOT / "locales/fr/kufatilia.ftl").read_bytes()
write("flow_loader", kuf_toml + b"\xff" + kuf_ftl + b"\ndeep = " + b"{ " * 65 + b'"x"' + b" }" * 65 + b"\n")
deep_when = b'when = "' + b"(" * 101 + b"incident == 'other'" + b")" * 101 + b'"'
write("flow_loader", kuf_toml.replace(b"when = \"incident == 'other'\"", deep_when) + b"\xff" + kuf_ftl)

# Conditions: every `when` of the flows and fixtures, and the docs' examples.
conditions = set()
for p in list((ROOT / "flows").glob("*.toml")) + list((ROOT / "tests").rglob("*.toml")):
    conditions.update(re.findall(r'(?m)^when = "(.*)"', p.read_text()))
section = doc.split("## Conditions", 1)[1].split("\n## ", 1)[0]
conditions.update(l.strip() for l in re.findall(r"```text\n(.*?)```", section, re.S)[0].splitlines())
conditions.update(
    c for c in re.findall(r"`([^`]+)`", section) if any(op in c for op in ("==", "(", "<", ">"))
)
# And some on the kufatilia and connectivity steps the target reads.
conditions.update([
    "people >= 10 and not (consent == 'no')",
    "date < '2026-01-01' or date >= '2026-03-01'",
    "site == 'Kamituga' or answered(site)",
    "selected(services, 'internet') and not selected(incident, 'other')",
    "(when == 'earlier' or when != 'today') and people <= -1.5",
    "(" * 101 + "answered(site)" + ")" * 101,
])
for c in sorted(conditions):
    write("when_parser", c.encode())

# The renderer reads engine states from bytes: a few deterministic random ones.
rng = random.Random(1)
for n in (8, 16, 32, 64, 128, 256):
    write("ussd_renderer", bytes(rng.randrange(256) for _ in range(n)))

for d in sorted(CORPUS.iterdir()):
    print(f"{d.name}: {len(list(d.iterdir()))} files")
