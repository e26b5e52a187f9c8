#!/usr/bin/env bash
# scan_hier.sh -- issue 5's acceptance on issue 4's hierarchy: tier 0 (a
# generated catalogue, a group with a child group, approvals, a decline) <-
# tier 1 replica <- tier 2 replica, every link HTTPS and pinned (as in
# hier_three_tiers.sh). A client scanning tier 2 is offered exactly the
# approvals of its group and of the groups above it plus their closure, as
# worked out from the documents alone, the same as a client of tier 0;
# downloads every payload from tier 2 with verified digests; reports, and
# tier 2's status shows the report.
. "$(dirname "$0")/hier_lib.sh"
. "$(dirname "$0")/scan_lib.sh"

"$GEN" --seed 13 --revisions 300 --file-size 2000:20000 --out "$T/cat" > /dev/null
tier t0
tier t1 t0
tier t2 t1
w t0 -q import "$T/cat" > /dev/null
w t0 -q group add "Group A" > /dev/null
w t0 -q group add "Group B" --parent "Group A" > /dev/null
PICK=$(M pick "$T/cat")
A=$(python3 -c 'import json,sys; print(" ".join(json.loads(sys.argv[1])["ws"]))' "$PICK")
B=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["servers"][0])' "$PICK")
DECL=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["declined"])' "$PICK")
okall=0
for u in $A $DECL; do w t0 -q approve "$u" --group "Group A" --action install > /dev/null || okall=1; done
w t0 -q approve "$B" --group "Group B" --action install > /dev/null || okall=1
w t0 -q decline "$DECL" > /dev/null || okall=1
equals "tier 0: approvals for Group A and Group B, one decline" "$okall" 0

serve t0 || { e2e_finish; exit 1; }
check "tier 1 syncs from tier 0" sync_tier t1 r1
serve t1 || { e2e_finish; exit 1; }
check "tier 2 syncs from tier 1" sync_tier t2 r1
serve t2 || { e2e_finish; exit 1; }

# scan TIER NAME ARGS...: a client of TIER; $T/NAME.json, $T/NAME.err, RC
scan() {
  local tier=$1 name=$2 port; shift 2
  port=$(eval echo "\$PORT_$tier")
  env -u https_proxy -u HTTPS_PROXY -u ALL_PROXY "$W" -d "$T/client" scan --server "https://127.0.0.1:$port" \
    --ca "$T/$tier.crt" --json "$@" > "$T/$name.json" 2> "$T/$name.err"
  RC=$?
}
mkdir -p "$T/client"
json_list() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@"; }

scan t2 b --group "Group B" --download "$T/dl"
equals "a Group B client's scan of tier 2 exits 0" "$RC" 0
sed 's/^/     | /' "$T/b.err" | grep -v 'trust verdict' | head -5
# shellcheck disable=SC2086
M expect "$T/cat" "$(json_list $A "$B")" "[\"$DECL\"]" all > "$T/b.want"
M got "$T/cat" "$T/b.json" > "$T/b.got"
check "  the expected set is not trivial (>= 10 revisions)" test "$(wc -l < "$T/b.want")" -ge 10
if cmp -s "$T/b.want" "$T/b.got"; then ok "  offered exactly Group A's and Group B's approvals plus closure ($(wc -l < "$T/b.got"))"
else fail "  offered set differs (< expected, > scan)"; diff "$T/b.want" "$T/b.got" | head -20 | sed 's/^/     | /'; fi
lacks "  the update declined at tier 0 is not offered" "$T/b.got" "^$DECL:"
M files "$T/cat" "$T/b.want" > "$T/files.want"
equals "  every payload downloaded from tier 2 and verified" \
  "$(M field "$T/cat" "$T/b.json" summary.verified) $(M field "$T/cat" "$T/b.json" summary.failed)" \
  "$(wc -l < "$T/files.want") 0"
bad=0
while read -r sha1 sha256; do
  f=$(ls "$T/dl/$sha1".* "$T/dl/$sha1" 2>/dev/null | head -1)
  [ -n "$f" ] && [ "$(sha1sum < "$f" | cut -d' ' -f1)" = "$sha1" ] && [ "$(sha256sum < "$f" | cut -d' ' -f1)" = "$sha256" ] || bad=$((bad + 1))
done < "$T/files.want"
equals "  their bytes hash to tier 0's documents' SHA-1 and SHA-256" "$bad" 0
equals "  the file URLs point at tier 2" \
  "$(python3 -c 'import json,sys; print(" ".join(sorted({f["url"].split("/Content/")[0] for f in json.load(open(sys.argv[1]))["files"]})))' "$T/b.json")" \
  "https://127.0.0.1:$PORT_t2"
equals "  report accepted by tier 2" "$(M field "$T/cat" "$T/b.json" report.accepted)" true
w t2 status --json > "$T/t2.status"
equals "  tier 2's status shows the computer reporting, with its events" \
  "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["reports"]; print(r["computers_reporting"], r["events"])' "$T/t2.status")" \
  "1 $(M field "$T/cat" "$T/b.json" report.events)"

scan t2 a --group "Group A" --no-report
equals "a Group A client's scan of tier 2 exits 0" "$RC" 0
# shellcheck disable=SC2086
M expect "$T/cat" "$(json_list $A)" "[\"$DECL\"]" all > "$T/a.want"
M got "$T/cat" "$T/a.json" > "$T/a.got"
if cmp -s "$T/a.want" "$T/a.got"; then ok "  offered exactly Group A's approvals plus closure ($(wc -l < "$T/a.got"))"
else fail "  Group A's offered set differs"; diff "$T/a.want" "$T/a.got" | head -10 | sed 's/^/     | /'; fi
lacks "  Group B's approval is not offered to Group A" "$T/a.got" "^$B:"

scan t0 root --group "Group B" --no-report
equals "the same client of tier 0 is offered the same" "$(M got "$T/cat" "$T/root.json" | md5sum)" "$(md5sum < "$T/b.got")"
check "tier 2 stops cleanly (SIGTERM)" stop t2
check "tier 1 stops cleanly (SIGTERM)" stop t1
check "tier 0 stops cleanly (SIGTERM)" stop t0
e2e_finish
