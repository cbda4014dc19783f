"""Benchmark: p50/p95 of the registrar's 403 to a wrong answer, known vs made-up name, with the store's guard.

    PYTHONPATH=$PWD .venv/bin/python -m tests.security.timing_bench [out.json]

The two must match: a name that answers slower or faster is told apart.
"""
import json, statistics, sys, tempfile, time

from tests.security.test_registrar_guard import request
from store import Store
from store.auth_guard import AuthFailures, GuardPolicy
from telephony import DigestRegistrar
from telephony.digest import digest_authorization, ha1
from telephony.sip_message import SipResponse
from telephony.sip_transport import Source

d = tempfile.mkdtemp()
store = Store(f"sqlite:///{d}/ivr.db", listen=False)
guard = AuthFailures(store.engine, policies={"sip": GuardPolicy(thresholds={"source": 10**9, "user": 10**9})})
creds = {"alice": {a: ha1("alice", "ivr", "7391", a) for a in ("MD5", "SHA-256")}}
reg = DigestRegistrar(creds.get, realm="ivr", guard=guard.guard("sip"))
src = Source("UDP", ("203.0.113.5", 5060))
times = {"alice": [], "zed": []}
for i in range(400):
    for user in ("alice", "zed") if i % 2 else ("zed", "alice"):
        ch = reg.handle(request(user, cseq=2 * i), src)
        resp = SipResponse(401)
        for n, v in ch[2]:
            resp.headers.add(n, v)
        auth = digest_authorization(resp, "REGISTER", "sip:127.0.0.1", user, f"{i:04d}")
        req = request(user, auth=auth, cseq=2 * i + 1)
        t0 = time.perf_counter()
        out = reg.handle(req, src)
        times[user].append((time.perf_counter() - t0) * 1e6)
        assert out[0] == 403
res = {u: {"p50_us": round(statistics.median(v), 1), "p95_us": round(sorted(v)[int(0.95 * len(v))], 1)} for u, v in times.items()}
print(json.dumps(res))
if len(sys.argv) > 1:
    open(sys.argv[1], "w").write(json.dumps(res, indent=1))
store.close()
