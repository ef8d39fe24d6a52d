#!/usr/bin/env python3
"""linkd at scale, proven under load: deploy/local/cluster starts PostgreSQL, Redis, three linkd
instances, nginx in front and Prometheus; a load generator sends redirects (GET) and link
creations (POST) through nginx while the tests restart, kill and take away parts.

    cluster_test.py <linkd binary> [test names...]

Each test prints what it counted. A request "fails" when it gets no HTTP answer (refused, reset,
timed out) or a status other than the one it expects; every 201 is remembered, and afterwards
each acknowledged link must be in PostgreSQL.
"""

import http.client
import importlib.machinery
import importlib.util
import json
import os
import random
import signal
import string
import sys
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
_loader = importlib.machinery.SourceFileLoader("cluster", os.path.join(ROOT, "deploy", "local", "cluster"))
_spec = importlib.util.spec_from_loader("cluster", _loader)
cluster = importlib.util.module_from_spec(_spec)
_loader.exec_module(cluster)


def eventually(what, predicate, timeout=30.0):
    cluster.wait_until(what, predicate, timeout)


class Client:
    """One keep-alive HTTP/1.1 connection to nginx, from its own loopback address (so the per-IP
    redirect limit sees distinct clients, as it would behind a real load balancer)."""

    def __init__(self, url, source_ip="127.0.0.1"):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.source_ip = u.hostname, u.port, source_ip
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body) or raises OSError / http.client.HTTPException."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30,
                                                   source_address=(self.source_ip, 0))
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            r = self.conn.getresponse()
            data = r.read()
            if r.getheader("Connection", "").lower() == "close":
                self.close()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        except Exception:
            self.close()
            raise

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None


def create_key(c, name):
    client = Client(c.url)
    status, _, body = client.request("POST", "/v1/keys", json.dumps({"name": name}),
                                     {"Authorization": f"Bearer {c.admin_key}", "Content-Type": "application/json"})
    assert status == 201, (status, body)
    return json.loads(body)["key"]


def create_link(client, key, slug=None):
    payload = {"url": "https://example.org/" + "".join(random.choices(string.ascii_lowercase, k=12))}
    if slug:
        payload["slug"] = slug
    return client.request("POST", "/v1/links", json.dumps(payload),
                          {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})


class Load:
    """Redirects and creations through nginx from several threads, each paced to a steady rate,
    until stop(). Counts answers by status and remembers every created slug."""

    def __init__(self, c, slugs, keys, get_threads=4, get_rate=60.0, post_rate=4.0,
                 get_ok=(302,), post_ok=(201,)):
        self.c, self.slugs, self.keys = c, slugs, keys
        self.get_ok, self.post_ok = set(get_ok), set(post_ok)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.counts = {"GET": {}, "POST": {}}
        self.failures = {"GET": [], "POST": []}
        self.created = []
        self.unavailable_without_retry_after = 0
        self.threads = [threading.Thread(target=self._redirects, args=(i, get_rate), daemon=True)
                        for i in range(get_threads)]
        self.threads += [threading.Thread(target=self._creations, args=(k, post_rate), daemon=True) for k in keys]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join()

    def total(self, method, ok=True):
        with self.lock:
            return sum(n for s, n in self.counts[method].items() if (s in (self.get_ok if method == "GET"
                                                                             else self.post_ok)) == ok)

    def wait_for_more(self, method, n, timeout=30.0):
        """Waits until `n` more requests of `method` succeeded: the load is really flowing."""
        start = self.total(method)
        eventually(f"{n} more successful {method}s", lambda: self.total(method) >= start + n, timeout)

    def _count(self, method, status, detail):
        with self.lock:
            self.counts[method][status] = self.counts[method].get(status, 0) + 1
            ok = self.get_ok if method == "GET" else self.post_ok
            if status not in ok:
                self.failures[method].append((status, detail))

    def _paced(self, rate, step):
        interval = 1.0 / rate
        next_at = time.monotonic()
        while not self.stopping.is_set():
            step()
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                self.stopping.wait(delay)  # pacing the load, not waiting for a condition
            else:
                next_at = time.monotonic()

    def _redirects(self, i, rate):
        client = Client(self.c.url, source_ip=f"127.0.0.{10 + i}")

        def step():
            slug = random.choice(self.slugs)
            try:
                status, headers, _ = client.request("GET", "/" + slug)
                self._count("GET", status, headers.get("x-request-id", ""))
            except Exception as e:  # no answer at all: refused, reset, timed out
                self._count("GET", "no answer", repr(e))
        self._paced(rate, step)
        client.close()

    def _creations(self, key, rate):
        client = Client(self.c.url, source_ip="127.0.0.9")

        def step():
            try:
                status, headers, body = create_link(client, key)
                with self.lock:
                    if status == 201:
                        self.created.append(json.loads(body)["slug"])
                    elif status == 503 and not headers.get("retry-after"):
                        self.unavailable_without_retry_after += 1
                self._count("POST", status, (headers.get("retry-after"), body[:200]))
            except Exception as e:
                self._count("POST", "no answer", repr(e))
        self._paced(rate, step)
        client.close()

    def report(self, name):
        print(f"{name}: GET {dict(sorted(self.counts['GET'].items(), key=str))}, "
              f"POST {dict(sorted(self.counts['POST'].items(), key=str))}, {len(self.created)} links acknowledged")
        sys.stdout.flush()


def seed(c, n=20):
    key = create_key(c, "seed")
    client = Client(c.url)
    slugs = []
    for _ in range(n):
        status, _, body = create_link(client, key)
        assert status == 201, (status, body)
        slugs.append(json.loads(body)["slug"])
    warm(c, slugs)
    return slugs


def warm(c, slugs):
    """Resolves each slug on every instance, so each has it in its memory cache."""
    for inst in c.instances:
        direct = Client(inst.url)
        for s in slugs:
            status, _, _ = direct.request("GET", "/" + s)
            assert status == 302, status


def metric(instance, name):
    with urllib.request.urlopen(instance.admin_url + "/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def assert_all_present(c, slugs, what):
    stored = set(c.postgres.psql("SELECT slug FROM links").split())
    missing = [s for s in slugs if s not in stored]
    assert not missing, f"{what}: {len(missing)} acknowledged links are not in PostgreSQL: {missing[:5]}"


# --------------------------------------------------------------------------------------- tests

def test_proxy_headers(c, slugs):
    """nginx passes X-Forwarded-For and X-Request-ID; linkd believes the former only from nginx."""
    client = Client(c.url, source_ip="127.0.0.7")
    status, headers, _ = client.request("GET", "/" + slugs[0], headers={"X-Request-ID": "cluster-test-42"})
    assert status == 302 and headers.get("x-request-id") == "cluster-test-42", (status, headers)

    def logged(instance_filter, rid, ip):
        for inst in c.instances:
            for line in open(inst.s["log"]):
                if f'"request_id":"{rid}"' in line and instance_filter(line):
                    return f'"remote_ip":"{ip}"' in line
        return False
    # The TCP peer was nginx (127.0.0.2); the client, from X-Forwarded-For, was 127.0.0.7.
    eventually("the access log line through nginx", lambda: logged(lambda l: True, "cluster-test-42", "127.0.0.7"), 10)
    # Straight to an instance with a forged header: not believed, the peer is the client.
    direct = Client(c.instances[0].url, source_ip="127.0.0.8")
    direct.request("GET", "/" + slugs[0], headers={"X-Forwarded-For": "203.0.113.9", "X-Request-ID": "forged-1"})
    eventually("the access log line of the forged request",
               lambda: logged(lambda l: True, "forged-1", "127.0.0.8"), 10)
    print("proxy headers: X-Request-ID kept end to end; X-Forwarded-For believed from nginx only")


def test_rolling_restart(c, slugs):
    """(a) every instance restarted, one at a time, under load: nothing fails, nothing is lost."""
    keys = [create_key(c, f"rolling-{i}") for i in range(2)]
    with Load(c, slugs, keys) as load:
        load.wait_for_more("GET", 100)
        c.rolling_restart(between=lambda i: load.wait_for_more("GET", 100))
        load.wait_for_more("POST", 5)
    load.report("rolling restart")
    assert not load.failures["GET"] and not load.failures["POST"], \
        f"failed: GET {load.failures['GET'][:5]} POST {load.failures['POST'][:5]}"
    assert load.total("GET") > 300 and load.created, "the load did not flow"
    assert_all_present(c, load.created, "rolling restart")


def test_sigkill(c, slugs):
    """(b) one instance killed with SIGKILL under load: GETs are retried by nginx; only creations
    that were on the killed instance may fail (at most one per creating client)."""
    keys = [create_key(c, f"kill-{i}") for i in range(2)]
    victim = c.instances[1]
    with Load(c, slugs, keys) as load:
        load.wait_for_more("GET", 100)
        victim.stop(signal.SIGKILL)
        load.wait_for_more("GET", 200)
        load.wait_for_more("POST", 5)
        victim.start()
        load.wait_for_more("GET", 100)
    load.report("SIGKILL")
    print(f"SIGKILL: {len(load.failures['GET'])} failed GETs, {len(load.failures['POST'])} failed POSTs "
          f"({load.failures['POST'][:3]})")
    assert not load.failures["GET"], f"GETs must be retried: {load.failures['GET'][:5]}"
    assert len(load.failures["POST"]) <= len(keys), load.failures["POST"]
    assert_all_present(c, load.created, "SIGKILL")


def test_redis_restart(c, slugs):
    """(c) Redis restarted under load: redirects and creations continue (rate limits fail open,
    the memory cache serves); once Redis is back, linkd uses it again without a restart."""
    keys = [create_key(c, "redis-outage")]
    with Load(c, slugs, keys) as load:
        load.wait_for_more("GET", 50)
        c.redis.stop(signal.SIGKILL)
        load.wait_for_more("GET", 200)
        load.wait_for_more("POST", 4)
        c.redis.start()

        def redis_used_again():
            import socket
            with socket.create_connection(("127.0.0.1", c.redis.s["port"]), timeout=2) as s:
                s.sendall(b"DBSIZE\r\n")
                return int(s.recv(64)[1:].split(b"\r\n")[0]) > 0
        eventually("linkd writing to the restarted Redis", redis_used_again)
        # Each instance hears the invalidation channel again (having dropped its memory cache,
        # since it may have missed invalidations while Redis was away).
        eventually("every instance subscribed again",
                   lambda: all(metric(i, "linkd_cache_subscribed") == 1 for i in c.instances))
        load.wait_for_more("GET", 50)
    load.report("Redis restart")
    assert not load.failures["GET"] and not load.failures["POST"], \
        f"failed: GET {load.failures['GET'][:5]} POST {load.failures['POST'][:5]}"
    assert_all_present(c, load.created, "Redis restart")


def test_postgres_restart(c, slugs):
    """(c) PostgreSQL restarted under load: cached redirects continue; creations get 503 with
    Retry-After while it is away (never anything else); /readyz says 503; all recover alone."""
    keys = [create_key(c, "pg-outage")]
    warm(c, slugs)  # the redirects "cached" means: in every instance's memory
    with Load(c, slugs, keys, post_ok=(201, 503)) as load:
        load.wait_for_more("POST", 3)
        c.postgres.stop()
        eventually("a creation answered 503", lambda: load.counts["POST"].get(503, 0) > 0)
        eventually("every instance reporting not ready",
                   lambda: all(cluster.http_status(i.url + "/readyz") == 503 for i in c.instances))
        load.wait_for_more("GET", 200)
        c.postgres.start()
        eventually("every instance ready again",
                   lambda: all(cluster.http_status(i.url + "/readyz") == 200 for i in c.instances))
        load.wait_for_more("POST", 5)
    load.report("PostgreSQL restart")
    assert not load.failures["GET"], f"cached redirects must continue: {load.failures['GET'][:5]}"
    assert not load.failures["POST"], f"only 201 or 503: {load.failures['POST'][:5]}"
    assert load.counts["POST"].get(503, 0) > 0, "the outage was not seen"
    assert load.unavailable_without_retry_after == 0, "a 503 without Retry-After"
    assert_all_present(c, load.created, "PostgreSQL restart")


def test_global_creation_limit(c, slugs):
    """(d) one key's creation limit holds across the three instances (shared in Redis): a burst
    spread over all of them gets the burst and what the rate refills, not three bursts."""
    key = create_key(c, "limit")
    burst, per_second = 50, 10.0  # linkd's defaults: ratelimit.create_burst, create_per_minute / 60
    results = []
    lock = threading.Lock()

    def fire(n):
        client = Client(c.url)
        for _ in range(n):
            status, _, _ = create_link(client, key)
            with lock:
                results.append(status)
    start = time.monotonic()
    threads = [threading.Thread(target=fire, args=(50,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    created, limited = results.count(201), results.count(429)
    allowed = burst + per_second * elapsed + 1
    print(f"creation limit: {len(results)} creations in {elapsed:.2f} s through 3 instances: {created} created, "
          f"{limited} refused (429); the shared limit allows at most {allowed:.0f} "
          f"(3 separate limits would allow {3 * burst + 3 * per_second * elapsed:.0f})")
    assert created + limited == len(results), results
    assert burst <= created <= allowed, (created, allowed)


def test_prometheus_sees_every_instance(c, slugs):
    """Prometheus scrapes the three admin ports; its HTTP API sees all three."""
    def three_up():
        r = c.prometheus.query('up{job="linkd"} == 1')
        return len(r) == len(c.instances)
    eventually("Prometheus scraping every instance", three_up, 60)
    def requests_from_each():
        r = c.prometheus.query('sum by (instance) (keel_http_requests_total)')
        return len(r) == len(c.instances) and all(float(s["value"][1]) > 0 for s in r)
    eventually("request counts from every instance", requests_from_each, 60)
    r = c.prometheus.query('sum by (instance) (keel_http_requests_total)')
    print("prometheus: " + ", ".join(f"{s['metric']['instance']} {float(s['value'][1]):.0f} requests" for s in r))


TESTS = [test_proxy_headers, test_global_creation_limit, test_rolling_restart, test_sigkill, test_redis_restart,
         test_postgres_restart, test_prometheus_sees_every_instance]


def main():
    linkd = sys.argv[1]
    chosen = [t for t in TESTS if len(sys.argv) < 3 or t.__name__[5:] in sys.argv[2:]]
    c = cluster.Cluster.create(linkd=linkd, linkd_flags=["--log.level", "info"])
    failed = []
    try:
        c.start()
        slugs = seed(c)
        for t in chosen:
            print(f"--- {t.__name__}")
            sys.stdout.flush()
            try:
                t(c, slugs)
            except Exception as e:
                failed.append(t.__name__)
                print(f"FAILED {t.__name__}: {e!r}")
    finally:
        c.stop()
    if failed:
        print(f"logs in {c.state['dir']}")
        sys.exit(1)
    import shutil
    shutil.rmtree(c.state["dir"], ignore_errors=True)
    print(f"cluster: {len(chosen)} tests passed")


if __name__ == "__main__":
    main()
