# shellcheck shell=bash
# scan_lib.sh -- shared by the scan_*.sh end-to-end tests (sourced after
# lib.sh or hier_lib.sh): waiting for a server, and an independent model of a
# generated catalogue (python, from the update documents alone) that says
# what a client of some groups must be offered and which payloads it needs.
#   M pick GEN                         approvals to make (JSON)
#   M expect GEN APPROVED DECLINED all|none   UpdateID:rev lines a client gets
#   M files GEN WANTFILE               "sha1hex sha256hex" of their payloads
#   M got GEN SCAN.json                UpdateID:rev lines the scan was offered
#   M field GEN SCAN.json a.b          one field of a scan's JSON
# scan_wait_listening OUTFILE: the port from serve's "listening on" line (empty on timeout)
scan_wait_listening() {
  for _ in $(seq 1 100); do
    if grep -q '^listening on https://' "$1" 2>/dev/null; then
      sed -nE 's|^listening on https://127\.0\.0\.1:([0-9]+) .*|\1|p' "$1"; return 0
    fi
    sleep 0.1
  done
  return 1
}

# The model of the catalogue, from the documents alone.
cat > "$E2E_TMP/scan_model.py" <<'PY'
import glob, json, os, sys
import xml.etree.ElementTree as ET
U = '{http://schemas.microsoft.com/msus/2002/12/Update}'

def load(gen):
    docs = {}
    for path in glob.glob(os.path.join(gen, '*.xml')):
        root = ET.parse(path).getroot()
        ident = root.find(U + 'UpdateIdentity')
        uid, rev = ident.get('UpdateID').lower(), int(ident.get('RevisionNumber'))
        props = root.find(U + 'Properties')
        clauses, bundled, files = [], [], []
        pre = root.find(U + 'Relationships/' + U + 'Prerequisites')
        for c in (list(pre) if pre is not None else []):
            if c.tag == U + 'UpdateIdentity':
                clauses.append([c.get('UpdateID').lower()])
            elif c.tag == U + 'AtLeastOne':
                clauses.append([i.get('UpdateID').lower() for i in c.findall(U + 'UpdateIdentity')])
        for i in root.findall(U + 'Relationships/' + U + 'BundledUpdates/' + U + 'AtLeastOne/' + U + 'UpdateIdentity'):
            bundled.append(i.get('UpdateID').lower())
        for f in root.findall(U + 'Files/' + U + 'File'):
            sha256 = [a.text.strip() for a in f.findall(U + 'AdditionalDigest') if a.get('Algorithm') == 'SHA256']
            files.append((f.get('Digest'), sha256[0] if sha256 else None))
        d = dict(uid=uid, rev=rev, type=props.get('UpdateType'), clauses=clauses, bundled=bundled, files=files)
        if uid not in docs or docs[uid]['rev'] < rev:
            docs[uid] = d
    return docs

def offered(docs, approved, declined, policy):
    """What a client of the group is offered by the software pass: its
    approvals and every category and detectoid (deployed implicitly, as a
    Windows Server WSUS does), with their closure."""
    implicit = [u for u in docs if docs[u]['type'] in ('Category', 'Detectoid')]
    closure, todo = set(), [u for u in list(approved) + implicit if u not in declined]
    while todo:
        u = todo.pop()
        if u in closure or u in declined or u not in docs:
            continue
        closure.add(u)
        d = docs[u]
        todo += [m for c in d['clauses'] for m in c] + d['bundled']
    closure = {u for u in closure if docs[u]['type'] != 'Driver'}
    if policy == 'none':
        return {u for u in closure if not docs[u]['clauses']}
    got = set()
    while True:
        more = {u for u in closure - got if all(any(m in got for m in c) for c in docs[u]['clauses'])}
        if not more:
            return got
        got |= more

def b64hex(b):
    import base64
    return base64.b64decode(b).hex()

cmd, gen = sys.argv[1], sys.argv[2]
docs = load(gen)
if cmd == 'pick':
    # Approvals: for Workstations 3 software leaves, 2 bundles, 1 non-leaf
    # software update; 1 leaf for Servers only; 1 leaf approved for
    # Workstations and then declined. None of them reachable from another.
    manifest = [l.rstrip('\n').split('\t') for l in open(os.path.join(gen, 'manifest.tsv'))][1:]
    kind = {r[0].lower(): r[3] for r in manifest}
    def reach(us):
        seen, todo = set(), list(us)
        while todo:
            u = todo.pop()
            if u not in seen:
                seen.add(u); todo += [m for c in docs[u]['clauses'] for m in c] + docs[u]['bundled']
        return seen
    order = sorted(docs)
    bundles = [u for u in order if kind[u] == 'bundle'][:2]
    nonleaf = [u for u in order if kind[u] == 'nonleaf' and docs[u]['files']][:1]
    used = reach(bundles + nonleaf)
    leaves = [u for u in order if kind[u] == 'leaf' and docs[u]['files'] and u not in used]
    ws = bundles + nonleaf + leaves[:3]
    used = reach(ws)
    rest = [u for u in leaves[3:] if u not in used]
    print(json.dumps({'ws': ws, 'servers': [rest[0]], 'declined': rest[1], 'deadline': leaves[0]}))
elif cmd == 'expect':
    approved, declined, policy = json.loads(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]
    for u in sorted(offered(docs, approved, set(declined), policy)):
        print('%s:%d' % (u, docs[u]['rev']))
elif cmd == 'files':
    # sha1-hex sha256-hex of every payload of the given UpdateIDs
    out = set()
    for line in open(sys.argv[3]):
        u = line.split(':')[0]
        for sha1, sha256 in docs[u]['files']:
            out.add('%s %s' % (b64hex(sha1), b64hex(sha256) if sha256 else '-'))
    print('\n'.join(sorted(out)))
elif cmd == 'got':
    # from a scan --json: offered (not out of scope) UpdateID:rev, sorted
    j = json.load(open(sys.argv[3]))
    for u in sorted('%s:%d' % (x['update_id'], x['revision']) for x in j['updates'] if not x['out_of_scope']):
        print(u)
elif cmd == 'field':
    j = json.load(open(sys.argv[3]))
    for k in sys.argv[4].split('.'):
        j = j[int(k)] if isinstance(j, list) else j[k]
    print(json.dumps(j) if isinstance(j, (dict, list, bool)) or j is None else j)
PY
M() { python3 "$E2E_TMP/scan_model.py" "$@"; }
