-- wrk: one JSON-RPC 2.0 call per request (tests/bench/jsonrpc.py)
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","method":"demo.add","params":[20,22],"id":1}'
wrk.headers["Content-Type"] = "application/json"
