-- GET the resource API with a bearer token from BENCH_TOKEN.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
