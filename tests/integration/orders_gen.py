"""Order files for the lifecycle and renewal tests, derived from the sample
orders: orders_gen.py SAMPLE OUT SPEC... where each SPEC is
REF:BASE:SECTION=YEARSxCOUNT[,SECTION=YEARSxCOUNT...][:key=value...]
BASE is 0 or 1 (which sample order), sections not named are unticked, and
the amount is recomputed (200 yuan per certificate-year). Extra keys:
account_uscc=..., renews_serial=..., renews_org=KIND (by the account's USCC
and KIND), replaces_serial=... (a replacement, 补办), amount=FEN (the stated
amount instead of the computed one), city=... (the handler's city),
wrong_amount=1."""
import copy
import json
import sys

sample = json.load(open(sys.argv[1]))["orders"]
out = []
for spec in sys.argv[3:]:
    parts = spec.split(":")
    ref, base, sections = parts[0], int(parts[1]), parts[2]
    extra = dict(p.split("=", 1) for p in parts[3:])
    o = copy.deepcopy(sample[base])
    o["portal_ref"] = ref
    want = dict(s.split("=") for s in sections.split(","))
    total = 0
    for sec in ("organisation", "legal_rep", "entrusted"):
        if sec in want:
            years, count = (int(x) for x in want[sec].split("x"))
            if sec not in o or not o[sec].get("ticked"):
                raise SystemExit("sample %d has no %s section" % (base, sec))
            o[sec]["years"], o[sec]["count"] = years, count
            total += 20000 * years * count
        elif sec in o:
            del o[sec]
    if "account_uscc" in extra:
        o["account_uscc"] = extra["account_uscc"]
        if "organisation" in o:
            o["organisation"]["uscc"] = extra["account_uscc"]
    if "renews_serial" in extra:
        o["type"] = "renewal"
        o["renews"] = {"serial": extra["renews_serial"]}
    if "renews_org" in extra:
        o["type"] = "renewal"
        o["renews"] = {"uscc": o["account_uscc"], "kind": extra["renews_org"]}
    if "city" in extra:
        o["handler"]["city"] = extra["city"]
    if "replaces_serial" in extra:
        o["type"] = "replacement"
        o["replaces"] = {"serial": extra["replaces_serial"]}
    o["amount_fen"] = total + (100 if extra.get("wrong_amount") else 0)
    if "amount" in extra:
        o["amount_fen"] = int(extra["amount"])
    out.append(o)
json.dump({"orders": out} if len(out) > 1 else out[0], open(sys.argv[2], "w"),
          ensure_ascii=False, indent=1)
