import sys, collections, statistics
rows = collections.defaultdict(list); order = []
hot = {}
last = None
for l in open(sys.argv[1] if len(sys.argv) > 1 else "/tmp/pgw/results.txt"):
    p = l.split()
    if l.startswith("hot|"):
        _, upd, h = l.strip().split("|"); hot.setdefault(last, []).append((int(upd), int(h))); continue
    if len(p) < 8: continue
    name = p[0]; tps = float(p[2]); cpu = float(p[6])
    if name not in rows: order.append(name)
    rows[name].append((tps, cpu)); last = name
base = {}
for n in order:
    op = n.rsplit("-", 1)[1]
    if n.startswith("base-"): base[op] = statistics.median(c for _, c in rows[n])
print(f"{'variant':26s} {'n':>2s} {'tps med':>8s} {'cpu us med':>10s} {'delta':>7s}  cpu samples")
for n in order:
    op = n.rsplit("-", 1)[1]
    t = statistics.median(x for x, _ in rows[n]); c = statistics.median(x for _, x in rows[n])
    d = c - base.get(op, c)
    h = hot.get(n)
    hs = f"  HOT {sum(b for _,b in h)/max(1,sum(a for a,_ in h)):.0%}" if h else ""
    print(f"{n:26s} {len(rows[n]):2d} {t:8.0f} {c:10.1f} {d:+7.1f}  {' '.join(f'{x:.0f}' for _, x in rows[n])}{hs}")
