import csv,glob,statistics,sys
D=sys.argv[1]
def load(f):
    d={}
    for r in csv.DictReader(open(f)):
        d[(r['op'],int(r['bytes']),r['impl'])]=float(r['median_us'])
    return d
runs={b:[load(f) for f in sorted(glob.glob(f'{D}/{b}-run*.csv'))] for b in ('old','new')}
keys=sorted({(k[0],k[1]) for k in runs['old'][0]})
impls=['Swift','Swift-into','Swift-await']
print('| op | size | impl | C (median) | old | new | paired new − old |')
print('|---|---:|---|---:|---:|---:|---:|')
for op,by in keys:
    for im in impls:
        if (op,by,im) not in runs['old'][0]: continue
        def m(d):
            c=d[(op,by,'C-malloc')]; s=d[(op,by,im)]
            return s-c if by<65536 else s/c
        o=[m(d) for d in runs['old']]; n=[m(d) for d in runs['new']]
        p=[b-a for a,b in zip(o,n)]
        c=statistics.median([d[(op,by,'C-malloc')] for d in runs['old']+runs['new']])
        if by<65536:
            print(f'| {op} | {by} | {im} | {c:.3f} µs | {statistics.median(o):+.3f} µs | {statistics.median(n):+.3f} µs | {statistics.median(p):+.3f} µs |')
        else:
            print(f'| {op} | {by} | {im} | {c:.2f} µs | {statistics.median(o):.3f} × | {statistics.median(n):.3f} × | {statistics.median(p):+.3f} |')
