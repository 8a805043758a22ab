#!/usr/bin/env bash
# A feedgate consumer loop in bash and curl: poll a feed, process each page, keep the ETag in a file.
#
#   examples/consumer.sh http://127.0.0.1:8080/feeds/news news.etag
#   examples/consumer.sh URL STATE_FILE --once             # until caught up, then exit 0
#   examples/consumer.sh URL STATE_FILE --interval 10      # seconds between polls at the head (5)
#
# - Polls with `If-None-Match: <the ETag in STATE_FILE>` (none at first: a catch-up from the start).
# - 304: nothing new; sleeps and polls again.
# - 200: processes the page (process(): one line `ACTION ID` per entry on stdout), then, and only
#   then, stores the page's ETag (a temporary file renamed over STATE_FILE). Killed while
#   processing, it replays that page when started again: at least once, nothing skipped.
# - A `next` link (`Link: <…>; rel="next"`): more is waiting; fetches it at once.
# - `sync:syncMode` catchUp while holding a position: the log was re-created (or the tombstones
#   the position needed were compacted away); prints `reset`: drop what came from the feed.
# - Errors: logged on stderr, retried after a pause from the stored ETag. SIGTERM or Ctrl-C stops
#   it between pages.
#
# The feed in RSS (the default URL form, not .atom). process() reads the XML with sed, which is
# enough for feedgate's own output; a real consumer would use an XML parser (xmllint, xq, …).
set -euo pipefail

usage() {
  echo "usage: $0 FEED_URL STATE_FILE [--once] [--interval SECONDS]" >&2
  exit 2
}
[ $# -ge 2 ] || usage
feed=$1 state=$2
shift 2
once=0 interval=5
while [ $# -gt 0 ]; do
  case $1 in
    --once) once=1 ;;
    --interval) [ $# -ge 2 ] || usage; interval=$2; shift ;;
    *) usage ;;
  esac
  shift
done

tmp=$(mktemp -d)
stop=0
# A signal sent to the whole process group (Ctrl-C, systemd) also stops the curl or sed at work,
# and `set -e` then ends the loop there: before the ETag is stored, and still a clean exit.
trap 'rm -rf "$tmp"; if [ "$stop" = 1 ]; then exit 0; fi' EXIT
trap 'stop=1' TERM INT

# Apply one page. Here: `ACTION ID` per entry, in order (an RSS item per line, then its guid and
# ibmwcm:action). Make it idempotent: it runs at least once per entry.
process() {
  { cat "$1"; echo; } |
    sed 's/<item>/\
<item>/g' |
    sed -n 's/.*<guid isPermaLink="false">\([^<]*\)<\/guid>.*<ibmwcm:action>\([a-z]*\)<\/ibmwcm:action>.*/\2 \1/p' |
    sed 's/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&apos;/'"'"'/g; s/&amp;/\&/g'
}

# The header $1 of the response head in $tmp/head (the last such line).
header() {
  tr -d '\r' <"$tmp/head" | awk -v h="$(printf '%s' "$1" | tr 'A-Z' 'a-z'):" \
    'tolower($1) == h { sub(/^[^:]*:[ \t]*/, ""); v = $0 } END { print v }'
}

# Sleep $1 seconds, woken by SIGTERM/SIGINT.
pause() {
  sleep "$1" &
  wait $! || true
}

url=$feed # the feed, or the `next` link of the page just processed
while [ "$stop" = 0 ]; do
  etag=$(cat "$state" 2>/dev/null || true)
  args=(-sS -o "$tmp/body" -D "$tmp/head" -w '%{http_code}')
  # A `next` link carries the position in its query: no header needed.
  if [ -n "$etag" ] && [ "$url" = "$feed" ]; then
    args+=(-H "If-None-Match: $etag")
  fi
  : >"$tmp/head"
  : >"$tmp/body"
  status=$(curl "${args[@]}" "$url") || status=000
  case $status in
  200)
    if grep -q '<sync:syncMode>catchUp</sync:syncMode>' "$tmp/body"; then
      case $etag in '' | *'.0"') ;; *) echo reset ;; esac # held a position: start over
    fi
    if ! process "$tmp/body"; then # e.g. a signal to the whole process group hit sed
      echo "processing the page failed: not storing its ETag, it will be read again" >&2
      url=$feed
      pause "$interval"
      continue
    fi
    new=$(header etag)
    printf '%s\n' "$new" >"$state.tmp"
    mv "$state.tmp" "$state" # only now: the page is processed
    next=$(tr -d '\r' <"$tmp/head" | sed -n 's/^[Ll][Ii][Nn][Kk]:.*<\([^>]*\)>; *rel="next".*/\1/p' | head -n 1)
    if [ -n "$next" ]; then
      url=$next
      continue
    fi
    url=$feed
    [ "$once" = 1 ] && exit 0
    ;;
  304)
    url=$feed
    [ "$once" = 1 ] && exit 0
    ;;
  *)
    echo "poll of $url failed: $status $(head -c 300 "$tmp/body" 2>/dev/null || true)" >&2
    [ "$once" = 1 ] && exit 1
    url=$feed # start again from the stored ETag
    retry=$(header retry-after)
    case $retry in '' | *[!0-9]*) ;; *) pause "$retry"; continue ;; esac
    ;;
  esac
  pause "$interval"
done
