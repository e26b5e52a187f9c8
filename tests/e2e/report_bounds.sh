#!/usr/bin/env bash
# report_bounds.sh -- bounded, durable client reporting (issue 9, items 3
# and 4), with real `serve` processes on loopback and the Windows-like
# clients of report_client.py:
#  1. three rounds of: serve, 8 clients reporting, SIGKILL of serve in the
#     middle of the stream, restart; every EventInstanceID answered true
#     is in the database;
#  2. a flood from one computer stops at event_quota_per_day: answered
#     false, the event store and the database file grow no more than the
#     quota allows, one warning names the computer;
#  3. registrations past max_computers are refused with a ServerBusy fault,
#     and past register_per_minute from one address too.
. "$(dirname "$0")/hier_lib.sh"
RC=(python3 "$(dirname "$0")/report_client.py")

# lines FILE...: lines in the files (0 when none)
lines() { cat "$@" 2>/dev/null | wc -l; }
json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

#---- 1. SIGKILL during reporting loses no acknowledged event
tier d
for round in 1 2 3; do
  serve d || { e2e_finish; exit 1; }
  mkdir -p "$T/r$round"
  "${RC[@]}" report "https://127.0.0.1:$PORT_d" "$T/d.crt" --out "$T/r$round" --clients 8 \
    --seconds 30 --batch 20 --prefix "round$round" > "$T/r$round.json" 2> "$T/r$round.err" &
  cpid=$!
  for i in $(seq 300); do [ "$(lines "$T/r$round"/acked.*)" -ge $((round * 400)) ] && break; sleep 0.05; done
  kill -9 "$SERVE_d"
  wait "$SERVE_d" 2>/dev/null
  SERVE_d=
  wait "$cpid"
  ACKED=$(lines "$T/r$round"/acked.*)
  check "round $round: serve was killed while clients were reporting ($ACKED events acknowledged)" \
    test "$ACKED" -ge $((round * 400))
  check "  the clients were still sending (stopped by the kill, not by their time limit)" \
    test "$(json_field "$T/r$round.json" seconds | cut -d. -f1)" -lt 30
  serve d || { e2e_finish; exit 1; }
  check "  serve restarts and stops cleanly" stop d
  sort -u "$T/r$round"/acked.* | tr 'A-F' 'a-f' > "$T/r$round.acked"
  q d "SELECT lower(event_instance_id) FROM event WHERE computer_id LIKE 'round$round-%'" | sort -u > "$T/r$round.stored"
  LOST=$(comm -23 "$T/r$round.acked" "$T/r$round.stored" | wc -l)
  equals "  every acknowledged event is stored ($(wc -l < "$T/r$round.acked") acknowledged, $(wc -l < "$T/r$round.stored") stored)" "$LOST" 0
done
equals "the database is intact" "$(q d 'PRAGMA integrity_check')" ok

#---- 2. a flood stops at the computer's daily quota
QUOTA=262144
tier f "" "[clients]" "event_quota_per_day = 256K"
serve f && stop f || { e2e_finish; exit 1; }
DB0=$(stat -c %s "$T/f.d/wsus.db")
serve f || { e2e_finish; exit 1; }
"${RC[@]}" flood "https://127.0.0.1:$PORT_f" "$T/f.crt" --batch 10 --pad 2000 --stop 60 --seconds 90 \
  --prefix flooder > "$T/flood.json"
ACKED=$(json_field "$T/flood.json" acked)
REFUSED=$(json_field "$T/flood.json" refused)
check "the flood was answered true at first ($ACKED events)" test "$ACKED" -ge 50
check "  then false ($REFUSED events refused, 60 batches in a row)" test "$REFUSED" -ge 600
check "  it sent over four times its quota" test $(((ACKED + REFUSED) * 2000)) -gt $((4 * QUOTA))
stop f
USED=$(q f "SELECT coalesce(sum(bytes), 0) FROM event_usage WHERE computer_id LIKE 'flooder%'")
STORE=$(q f "SELECT bytes FROM event_store")
check "  what it stored counts no more than the quota ($USED bytes)" test "$USED" -le "$QUOTA"
check "  and nearly all of it ($USED > 3/4 of $QUOTA)" test "$USED" -gt $((QUOTA * 3 / 4))
equals "  the store holds exactly that" "$STORE" "$USED"
DB1=$(stat -c %s "$T/f.d/wsus.db")
check "  the database file grew by at most twice the quota ($((DB1 - DB0)) bytes)" test $((DB1 - DB0)) -le $((2 * QUOTA))
equals "  one warning names the computer" "$(grep -c 'over its daily event quota.*computer=flooder' "$T/f.serve.err")" 1

#---- 3. registration: the cap and the rate per address
tier g "" "[clients]" "max_computers = 20" "register_per_minute = 1000"
serve g || { e2e_finish; exit 1; }
"${RC[@]}" register "https://127.0.0.1:$PORT_g" "$T/g.crt" --count 35 --seconds 60 --prefix capped > "$T/cap.json"
equals "20 computers register under max_computers = 20" "$(json_field "$T/cap.json" registered)" 20
contains "  the other 15 get a ServerBusy fault" "$T/cap.json" '"ServerBusy": 15'
contains "  and the refusal is logged" "$T/g.serve.err" "registration refused, computer limit reached"
stop g
equals "  20 computers are stored" "$(q g 'SELECT count(*) FROM computer')" 20

tier h "" "[clients]" "register_per_minute = 10"
serve h || { e2e_finish; exit 1; }
"${RC[@]}" register "https://127.0.0.1:$PORT_h" "$T/h.crt" --count 30 --seconds 60 --prefix rated > "$T/rate.json"
REG=$(json_field "$T/rate.json" registered)
check "register_per_minute = 10: a burst of about 10 registers ($REG)" test "$REG" -ge 10 -a "$REG" -le 12
contains "  the rest get ServerBusy" "$T/rate.json" '"ServerBusy": (18|19|20)'
stop h
e2e_finish
