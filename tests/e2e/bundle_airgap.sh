#!/usr/bin/env bash
# bundle_airgap.sh -- issue 13.5 acceptance through the real binary: a seeded
# tier 0 exports a signed bundle (catalogue, groups, approvals, declines,
# payloads); an air-gapped tier 1 with no upstream imports it and then holds
# the same catalogue, fragments, deployments, groups, declines and content,
# with the bundle's signer in every revision's provenance chain. A flipped
# byte in the lead, the catalogue member, a payload member, the manifest, the
# signature and the trailer, a wrong key, a missing signature, an unknown
# store and a replayed older bundle are each refused with one line on stderr,
# exit 1, and the database and content store unchanged. An incremental
# (--since) bundle applies on top of the full one (signer store from the
# config) and is refused on a server that never took the full one.
. "$(dirname "$0")/lib.sh"
W="$WSUS_BIN"
GEN="$(dirname "$WSUS_BIN")/wsus-gencatalog"
T=$E2E_TMP
T0=$T/tier0
T1=$T/tier1

# ---- tier 0: a seeded root with groups, approvals and a decline
"$GEN" --seed 13 --revisions 160 --revise 3 --out "$T/gen" > /dev/null
"$W" -q -d "$T0" import "$T/gen" > /dev/null; equals "tier 0 imports the generated catalogue" $? 0
mapfile -t leaves < <(awk -F'\t' 'NR > 1 && $4 == "leaf" { print $1 }' "$T/gen/manifest.tsv" | sort -u)
"$W" -q -d "$T0" group add Lab > /dev/null && "$W" -q -d "$T0" group add Pilot --parent Lab > /dev/null
equals "tier 0 groups" $? 0
"$W" -q -d "$T0" approve "${leaves[0]}" --group Lab --action install --deadline 2027-01-01T00:00:00Z > /dev/null &&
  "$W" -q -d "$T0" approve "${leaves[1]}" --group Pilot --action install > /dev/null &&
  "$W" -q -d "$T0" approve "${leaves[2]}" --group "All Computers" --action evaluate > /dev/null &&
  "$W" -q -d "$T0" decline "${leaves[3]}" > /dev/null
equals "tier 0 approvals and a decline" $? 0

openssl genpkey -algorithm ed25519 -out "$T/key.pem" 2>/dev/null
openssl pkey -in "$T/key.pem" -pubout -out "$T/pub.pem"
openssl genpkey -algorithm ed25519 -out "$T/other.pem" 2>/dev/null
openssl pkey -in "$T/other.pem" -pubout -out "$T/other-pub.pem"
fp=$(openssl pkey -pubin -in "$T/pub.pem" -outform DER | sha256sum | cut -d' ' -f1)

# ---- export
"$W" -q -d "$T0" export "$T/full.bundle" --key "$T/key.pem" --content > "$T/exp1" 2>&1
equals "export --content exits 0" $? 0
contains "export names the signer's key" "$T/exp1" "signed by key $fp"
anchor1=$(grep -o 'anchor [0-9]*' "$T/exp1" | grep -o '[0-9]*')
check "export prints the catalogue anchor" test -n "$anchor1"
check "no partial file left" test ! -e "$T/full.bundle.part"
"$W" -q -d "$T0" export "$T/x.bundle" > "$T/exp0" 2>&1; equals "export without --key is a usage error" $? 2
"$W" -q -d "$T0" export "$T/x.bundle" --key "$T/pub.pem" > "$T/exp0" 2>&1
check "export with a public key fails" test $? -eq 1
contains "the error says a private key is needed" "$T/exp0" "not an Ed25519 private key"

# ---- tier 1: no upstream configured; import
"$W" -q -d "$T1" import-bundle "$T/full.bundle" --signer "$T/pub.pem" > "$T/imp1" 2> "$T/imp1.err"
equals "tier 1 imports the bundle" $? 0
contains "import reports the new revisions" "$T/imp1" "revisions: [0-9]+ in the bundle, [0-9]+ new"
equals "import is silent on stderr" "$(wc -c < "$T/imp1.err")" 0
"$W" -q -d "$T1" sync history > "$T/hist" 2>&1
contains "sync history records the import with its payload bytes and signer" "$T/hist" \
  "succeeded +[1-9][0-9]* +0 +[1-9][0-9]* +bundle://"
contains "sync history names the signer's key" "$T/hist" "signed by $fp"

q() { sqlite3 "$1/wsus.db" "$2"; }
same() { # NAME CMD... run for both tiers, outputs must be equal and non-empty
  local n=$1; shift
  "$@" "$T0" > "$T/a.out" 2>&1; "$@" "$T1" > "$T/b.out" 2>&1
  if [ -s "$T/a.out" ] && cmp -s "$T/a.out" "$T/b.out"; then ok "$n"
  else fail "$n"; diff "$T/a.out" "$T/b.out" | head -10; fi
}
catalog_of() { "$W" -q -d "$1" catalog list; }
counts_of() { "$W" -q -d "$1" status --json | sed -n '/"catalog"/,/"content"/p'; }
deps_of() { q "$1" "SELECT deployment_id, update_id, revision_number, action, coalesce(deadline,''), group_id, is_assigned FROM deployment WHERE dead = 0 ORDER BY deployment_id"; }
groups_of() { q "$1" "SELECT group_id, name, coalesce(parent_id, '') FROM target_group ORDER BY group_id"; }
hidden_of() { q "$1" "SELECT DISTINCT update_id FROM revision WHERE hidden = 1 ORDER BY 1"; }
content_of() { (cd "$1/content" && find . -path ./.tmp -prune -o -type f -print | sort | xargs sha256sum); }
fragments_of() {
  q "$1" "SELECT update_id, revision_number FROM revision ORDER BY update_id, revision_number" |
    awk 'NR % 7 == 1' | while IFS='|' read -r id rev; do
      for kind in core extended "localized en"; do
        echo "== $id $rev $kind"; "$W" -q -d "$1" catalog fragment "$id" "$rev" $kind
      done
    done
}
same "catalogue list equals tier 0's" catalog_of
same "status counts equal tier 0's" counts_of
same "deployments equal tier 0's" deps_of
same "target groups equal tier 0's" groups_of
same "declined updates equal tier 0's" hidden_of
same "content store equals tier 0's" content_of
same "fragments (core, extended, localized) equal tier 0's" fragments_of
equals "every revision came from the bundle" \
  "$(q "$T1" "SELECT count(*) FROM revision WHERE origin_upstream LIKE 'bundle://%' AND origin_cert_sha256 = '$fp'")" \
  "$(q "$T1" "SELECT count(*) FROM revision")"
"$W" -q -d "$T1" status --json > "$T/st1"
contains "provenance chain keeps the tier 0 origin and adds the signed bundle hop" "$T/st1" \
  '"origin": "local import at server [0-9a-f-]+", "revisions": [0-9]+, "tiers": 2'
equals "every chain ends with the signer's key" \
  "$(q "$T1" "SELECT count(*) FROM revision WHERE origin_chain LIKE '%bundle://%' || char(9) || '$fp' || char(9) || '%'")" \
  "$(q "$T1" "SELECT count(*) FROM revision")"

contains "status lists the signer with the anchor reached" "$T/st1" \
  "\\{\"signer\": \"$fp\", \"exporter\": \"[0-9a-f-]+\", \"sequence\": [0-9]+, \"anchor\": $anchor1, \"payloads_pending\": false\\}"
"$W" -q -d "$T1" status > "$T/st1.txt"
contains "status text says the next --since" "$T/st1.txt" "key $fp: .* anchor $anchor1 \\(its next export: --since $anchor1\\)"

# ---- refusals: one line, exit 1, nothing changed
snapshot() {
  # an empty -wal appearing is no change (any open in WAL mode makes one)
  { sha256sum "$T1/wsus.db"; [ -s "$T1/wsus.db-wal" ] && sha256sum "$T1/wsus.db-wal"
    sqlite3 "$T1/wsus.db" .dump | sha256sum; content_of "$T1"; } > "$1" 2>&1
}
refused() { # NAME PATTERN ARGS...: import-bundle ARGS is refused, nothing changed
  local n=$1 pat=$2; shift 2
  snapshot "$T/before"
  "$W" -q -d "$T1" import-bundle "$@" > "$T/r.out" 2> "$T/r.err"; local rc=$?
  snapshot "$T/after"
  equals "$n: exit 1" "$rc" 1
  equals "$n: one line on stderr" "$(wc -l < "$T/r.err")" 1
  contains "$n: says why" "$T/r.err" "$pat"
  if cmp -s "$T/before" "$T/after"; then ok "$n: nothing changed"
  else fail "$n: nothing changed"; diff "$T/before" "$T/after" | head -5; fi
}
layout() { # prints: size manifest_offset manifest_length first_content_offset catalog_offset catalog_size
  python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
moff, mlen = struct.unpack('>QQ', d[-48:-32])
lines = d[moff:moff + mlen].decode().splitlines()
mem = [l.split() for l in lines if l.startswith('member ')]
cat = [m for m in mem if m[1] == 'catalog'][0]
con = [m for m in mem if m[1] == 'content']
print(len(d), moff, mlen, con[-1][3] if con else 0, cat[3], cat[4])
PY
}
flip() { # SRC OFFSET DST: copy SRC with one bit of byte OFFSET flipped
  python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[int(sys.argv[2])] ^= 0x20; open(sys.argv[3], "wb").write(d)' "$1" "$2" "$3"
}
read -r size moff mlen coff catoff catsize < <(layout "$T/full.bundle")
check "the bundle carries payload members" test "$coff" -gt 0
# Tier 1 already holds this bundle: to see the refusal, not the replay guard,
# the tampered copies are offered to a fresh server after each check below
# too (T2), and to tier 1 for the "nothing changed" check.
declare -A where=(
  [lead]=3 [catalogue]=$((catoff + catsize / 2)) [payload]=$((coff + 1)) [manifest]=$((moff + 40))
  [signature]=$((moff + mlen + 7)) [trailer-layout]=$((size - 40)) [trailer-signer]=$((size - 3))
)
declare -A why=(
  [lead]="not a wsus-replica bundle" [catalogue]="does not match its signed SHA-256"
  [payload]="does not match its signed SHA-256" [manifest]="signature does not verify"
  [signature]="signature does not verify" [trailer-layout]="layout does not add up"
  [trailer-signer]="unknown key"
)
for part in lead catalogue payload manifest signature trailer-layout trailer-signer; do
  flip "$T/full.bundle" "${where[$part]}" "$T/bad-$part.bundle"
  refused "flipped byte in the $part" "${why[$part]}" "$T/bad-$part.bundle" --signer "$T/pub.pem"
  "$W" -q -d "$T/fresh" import-bundle "$T/bad-$part.bundle" --signer "$T/pub.pem" > /dev/null 2> "$T/f.err"
  check "flipped byte in the $part: refused by a fresh server too" test $? -eq 1
done
check "no refused bundle created a database on the fresh server" test ! -e "$T/fresh/wsus.db"
refused "wrong key" "unknown key $fp" "$T/full.bundle" --signer "$T/other-pub.pem"
python3 - "$T/full.bundle" "$T/unsigned.bundle" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
moff, mlen = struct.unpack('>QQ', d[-48:-32])
t = bytearray(d[-64:]); t[12:16] = struct.pack('>I', 0)
open(sys.argv[2], 'wb').write(d[:moff + mlen] + bytes(t))
PY
refused "missing signature" "not signed" "$T/unsigned.bundle" --signer "$T/pub.pem"
head -c 2000 "$T/full.bundle" > "$T/short.bundle"
refused "truncated bundle" "trailer" "$T/short.bundle" --signer "$T/pub.pem"
refused "no signer configured" "no trusted bundle signers" "$T/full.bundle"
refused "replayed bundle" "not newer than the last one imported" "$T/full.bundle" --signer "$T/pub.pem"
printf '[upstream]\nurl = https://upstream.example:8531\n[storage]\ndata_dir = %s\n' "$T1" > "$T/replica.conf"
refused "a replica with an upstream" "is a replica of https://upstream.example:8531" -c "$T/replica.conf" \
  "$T/full.bundle" --signer "$T/pub.pem"

# ---- incremental bundle on top of the full one, signer store from the config
"$W" -q -d "$T0" approve "${leaves[4]}" --group Pilot --action install > /dev/null &&
  "$W" -q -d "$T0" decline "${leaves[5]}" > /dev/null &&
  "$W" -q -d "$T0" group add Servers > /dev/null
equals "tier 0 changes after the full export" $? 0
"$W" -q -d "$T0" export "$T/incr.bundle" --key "$T/key.pem" --since "$anchor1" --content > "$T/exp2" 2>&1
equals "export --since exits 0" $? 0
contains "the incremental bundle holds only the change" "$T/exp2" " [0-9] revisions, 1 deployments"
mkdir -p "$T/signers" && cp "$T/pub.pem" "$T/signers/tier0.pem"
printf '[trust]\nbundle_signers = %s\n[storage]\ndata_dir = %s\n' "$T/signers" "$T1" > "$T/tier1.conf"
"$W" -q -c "$T/tier1.conf" import-bundle "$T/incr.bundle" > "$T/imp2" 2>&1
equals "tier 1 imports the incremental bundle with the signer store" $? 0
same "deployments equal tier 0's after the increment" deps_of
same "groups equal tier 0's after the increment" groups_of
same "declines equal tier 0's after the increment" hidden_of
same "catalogue equals tier 0's after the increment" catalog_of
refused "older full bundle after the increment" "not newer" "$T/full.bundle" --signer "$T/pub.pem"
"$W" -q -d "$T/t2" import-bundle "$T/incr.bundle" --signer "$T/pub.pem" > /dev/null 2> "$T/t2.err"
check "an increment without the full bundle is refused" test $? -eq 1
contains "the refusal says to import a full bundle first" "$T/t2.err" "import a full bundle first"
check "the refused increment created nothing on the fresh server" test ! -e "$T/t2"

# ---- mode = autonomous takes the catalogue only and keeps its own approvals
T3=$T/auto
printf '[upstream]\nmode = autonomous\n[storage]\ndata_dir = %s\n' "$T3" > "$T/auto.conf"
"$W" -q -c "$T/auto.conf" migrate > /dev/null && "$W" -q -c "$T/auto.conf" group add Local > /dev/null
"$W" -q -c "$T/auto.conf" import-bundle "$T/full.bundle" --signer "$T/pub.pem" > "$T/auto.out" 2>&1
equals "an autonomous server imports the bundle" $? 0
"$W" -q -d "$T3" catalog list > "$T/b.out"; "$W" -q -d "$T0" catalog list > "$T/a.out"
check "autonomous: the catalogue equals tier 0's" cmp -s "$T/a.out" "$T/b.out"
equals "autonomous: no deployments taken" "$(q "$T3" "SELECT count(*) FROM deployment WHERE dead = 0")" 0
equals "autonomous: its own group kept, tier 0's not added" \
  "$(q "$T3" "SELECT group_concat(name) FROM target_group WHERE builtin = 0")" "Local"

# ---- the README's air-gap workflow, run as written (paths mapped into $T/guide)
G=$T/guide
mkdir -p "$G/etc" "$G/usb"
sed -n '/^## Air-gapped sites/,/^## Running it in production/p' "$WSUS_SOURCE_DIR/README.md" |
  awk '/^ *```sh$/{f=1; next} /^ *```$/{f=0} f' | sed -e 's/^ *//' | grep -v '^$' > "$T/guide.cmds"
check "the README's air-gap section has commands" test "$(wc -l < "$T/guide.cmds")" -ge 7
last_anchor=$anchor1
while IFS= read -r line; do
  cmd=$(printf '%s' "$line" | sed -e "s|/etc/wsus-replica|$G/etc|g" -e "s|/media/usb|$G/usb|g" \
        -e "s|/var/lib/wsus-replica|$G/tier1|g" -e "s|--since 412|--since $last_anchor|" \
        -e "s|^wsus-replica export |\"\$W\" -q -d \"\$T0\" export |" \
        -e "s|^wsus-replica import-bundle |\"\$W\" -q -d \"\$G/tier1\" import-bundle |")
  (cd "$G" && eval "$cmd") > "$T/g.out" 2>&1; rc=$?
  equals "README: '$line'" "$rc" 0
  [ "$rc" -eq 0 ] || sed 's/^/     | /' "$T/g.out"
  a=$(grep -o 'anchor [0-9]* (since' "$T/g.out" | grep -o '[0-9]*' | head -1)
  [ -n "$a" ] && last_anchor=$a
done < "$T/guide.cmds"
"$W" -q -d "$T0" catalog list > "$T/a.out"; "$W" -q -d "$G/tier1" catalog list > "$T/b.out"
check "the README's workflow leaves tier 1 with tier 0's catalogue" cmp -s "$T/a.out" "$T/b.out"

# ---- help
"$W" help export > "$T/h1" && "$W" help import-bundle > "$T/h2"
equals "help export and help import-bundle" $? 0
contains "help export names the key option" "$T/h1" "--key KEY.pem"
contains "help import-bundle names the signer option" "$T/h2" "--signer PUBKEY.pem"
e2e_finish
