import os, django, time, json
os.environ["DJANGO_SETTINGS_MODULE"]="moderation.settings_test"
django.setup()
from django.test.utils import setup_databases, teardown_databases
from django.db import connection
old = setup_databases(verbosity=0, interactive=False, keepdb=False)
try:
    from bench import against_raw
    from django.test import Client
    from cases.services.intake import create_api_client
    _, key = create_api_client(name="p", allowed_sources=["detector"])
    plan = against_raw.ingest_batches(1.0)
    c = Client()
    with against_raw.jobs_to_redis():
        qs=[]
        def counted(execute, sql, params, many, context):
            t=time.perf_counter(); r=execute(sql, params, many, context); qs.append((time.perf_counter()-t, sql[:120])); return r
        t=time.perf_counter()
        c.post("/api/v1/signals/", plan[0][0], content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {key}")
        print("first batch s", time.perf_counter()-t)
        import cProfile, pstats
        pr=cProfile.Profile(); pr.enable()
        t=time.perf_counter()
        with connection.execute_wrapper(counted):
            r=c.post("/api/v1/signals/", plan[1][0], content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {key}")
        el=time.perf_counter()-t
        pr.disable()
        print(r.status_code, "second batch s", el, "queries", len(qs), "db s", sum(a for a,_ in qs))
        import collections
        agg=collections.defaultdict(lambda:[0,0.0])
        for a,sql in qs:
            k=sql[:60]; agg[k][0]+=1; agg[k][1]+=a
        for k,(n,a) in sorted(agg.items(), key=lambda x:-x[1][1])[:15]: print(n, f"{a:.2f}", k)
        pstats.Stats(pr).sort_stats("tottime").print_stats(20)
finally:
    teardown_databases(old, verbosity=0)
