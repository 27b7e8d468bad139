import csv,glob,statistics,sys,re
# Paired comparison of alternated runs of two builds: DIR/old-runN.csv against DIR/new-runN.csv.
# usage: compare-pairs.py DIR [MAX_C_CHANGE]
# With MAX_C_CHANGE (0.15 in docs/performance/2026-12-03-receives), a pair whose two C-malloc medians
# differ by more than that fraction (a flip of the machine's latency state between the two runs) is
# left out; without it every pair is kept.
D=sys.argv[1]
LIMIT=float(sys.argv[2]) if len(sys.argv)>2 else float('inf')
def load(f):
    d={}
    for r in csv.DictReader(open(f)):
        d[(r['op'],int(r['bytes']),r['impl'])]=float(r['median_us'])
    return d
idx=sorted({int(re.search(r'run(\d+)',f).group(1)) for f in glob.glob(D+'/old-run*.csv')})
pairs=[(load(f'{D}/old-run{i}.csv'),load(f'{D}/new-run{i}.csv')) for i in idx]
keys=sorted({(k[0],k[1]) for k in pairs[0][0]})
print('| op | size | impl | pairs kept | C (median) | old | new | paired new − old |')
print('|---|---:|---|---:|---:|---:|---:|---:|')
for op,by in keys:
    for im in ['Swift','Swift-into','Swift-await']:
        if (op,by,im) not in pairs[0][0]: continue
        o=[];n=[];p=[];cs=[]
        for a,b in pairs:
            ca,cb=a[(op,by,'C-malloc')],b[(op,by,'C-malloc')]
            if abs(ca-cb)/min(ca,cb)>LIMIT: continue
            f=(lambda d,c: d[(op,by,im)]-c) if by<65536 else (lambda d,c: d[(op,by,im)]/c)
            o.append(f(a,ca)); n.append(f(b,cb)); p.append(f(b,cb)-f(a,ca)); cs+= [ca,cb]
        if not p: continue
        if by<65536:
            print(f'| {op} | {by} | {im} | {len(p)} | {statistics.median(cs):.3f} µs | {statistics.median(o):+.3f} µs | {statistics.median(n):+.3f} µs | {statistics.median(p):+.3f} µs |')
        else:
            print(f'| {op} | {by} | {im} | {len(p)} | {statistics.median(cs):.2f} µs | {statistics.median(o):.3f} × | {statistics.median(n):.3f} × | {statistics.median(p):+.3f} |')
