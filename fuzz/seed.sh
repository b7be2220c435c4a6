#!/usr/bin/env bash
# Builds the seed corpus of every fuzz target under fuzz/corpus/<target>/ (git-ignored):
#  - fixture-*: one frame per file from shards/fixtures/**.jsonl (committed fixtures);
#  - inline-*:  a few hand-written commands/bodies for the parsers that have no fixture file;
#  - shared-*:  real recorded frames from ../shared/corpus/*.jsonl when that folder exists
#               (price decoders only). These must never be committed: fuzz/corpus/ is ignored.
# The decoder and user targets read the provider from the first byte: '0', '1', '2' select the
# exchange's spot, USD-M/linear and COIN-M/inverse provider (see fuzz/src/lib.rs).
# Idempotent: re-running rewrites the same files and leaves what libFuzzer added alone.
set -euo pipefail
cd "$(dirname "$0")"
FIX=../shards/fixtures
SHARED=${COREFEED_SHARED_CORPUS:-../../shared/corpus}
C=corpus

# jsonl FILE TARGET PREFIX NAME: one seed file per non-empty line, PREFIX byte first.
jsonl() {
    local file=$1 target=$2 prefix=$3 name=$4 n=0 line
    mkdir -p "$C/$target"
    while IFS= read -r line || [[ -n $line ]]; do
        n=$((n + 1))
        [[ -z $line ]] && continue
        printf '%s%s' "$prefix" "$line" >"$C/$target/$name-$n"
    done <"$file"
}

# inline TARGET NAME TEXT
inline() {
    mkdir -p "$C/$1"
    printf '%s' "$3" >"$C/$1/inline-$2"
}

for f in "$FIX"/binance/*.jsonl; do
    jsonl "$f" decode_binance 0 "fixture-$(basename "$f" .jsonl)"
done
for f in "$FIX"/okx/*.jsonl; do
    jsonl "$f" decode_okx 0 "fixture-$(basename "$f" .jsonl)"
done
# decode_fast_diff: '0' = binance, '6' = okx (see ALL_PRICE in src/lib.rs).
for f in "$FIX"/binance/*.jsonl; do
    jsonl "$f" decode_fast_diff 0 "fixture-binance-$(basename "$f" .jsonl)"
done
for f in "$FIX"/okx/*.jsonl; do
    jsonl "$f" decode_fast_diff 6 "fixture-okx-$(basename "$f" .jsonl)"
done
jsonl "$FIX/binance/user/spot.jsonl" user_binance 0 fixture-spot
jsonl "$FIX/binance/user/usdm.jsonl" user_binance 1 fixture-usdm
jsonl "$FIX/binance/user/coinm.jsonl" user_binance 2 fixture-coinm
jsonl "$FIX/okx/user/spot.jsonl" user_okx 0 fixture-spot
jsonl "$FIX/okx/user/linear.jsonl" user_okx 1 fixture-linear
jsonl "$FIX/okx/user/inverse.jsonl" user_okx 2 fixture-inverse

inline room_command open-binance '{"payload":{"event":"open stream","uuid":"room-1","data":{"userId":"u1","api":{"key":"K1","secret":"S1","provider":"binance"}}}}'
inline room_command open-okx '{"payload":{"event":"open stream","data":{"userId":42,"api":{"key":"K2","secret":"S2","passphrase":"P2","provider":"paperOkxLinear","keysType":"legacy","okxSource":"my"}}}}'
inline room_command open-nopass '{"payload":{"event":"open stream","data":{"userId":"u3","api":{"key":"K3","secret":"S3","provider":"okx"}}}}'
inline room_command close '{"payload":{"event":"close stream","uuid":"room-1"}}'
inline room_command restart '{"payload":{"event":"force restart stream","uuid":"room-1"}}'
inline room_command bare-open '{"event":"open stream","uuid":"r","data":{"userId":"u","api":{"key":"k","secret":"s","provider":"binanceUsdm"}}}'
inline room_command bare-close '{"event":"close stream","uuid":" "}'
inline room_command unknown '{"payload":{"event":"reboot","uuid":"x"}}'

inline candle_request binance '{"payload":{"symbol":"BTCUSDT","exchange":"binance","interval":"1m"}}'
inline candle_request usdm '{"payload":{"symbol":"ethusdt","exchange":"binanceUsdm","interval":"1s"}}'
inline candle_request coinm '{"payload":{"symbol":"BTCUSD_PERP","exchange":"paperBinanceCoinm","interval":"1M"}}'
inline candle_request okx '{"payload":{"symbol":"BTC-USDT","exchange":"okx","interval":"candle1m"}}'
inline candle_request okx-linear '{"payload":{"symbol":"BTC-USDT-SWAP","exchange":" okxLinear ","interval":"candle1Dutc"}}'
inline candle_request bad '{"payload":{"symbol":"nope","exchange":"noSuchExchange","interval":"1m"}}'

inline listen_key ok '{"listenKey":"pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"}'
inline listen_key escaped '{"listenKey":"a\u0062\"c","other":[1,2.5e3,null,true]}'
inline listen_key error '{"code":-1099,"msg":"Not found, unauthenticated, or unauthorized."}'
inline listen_key number '{"listenKey":123}'

if [[ -d $SHARED ]]; then
    for f in "$SHARED"/binance-*.jsonl; do
        [[ -e $f ]] || continue
        case $(basename "$f") in
            binance-spot.jsonl) p=0 ;; binance-usdm.jsonl) p=1 ;; binance-coinm.jsonl) p=2 ;; *) continue ;;
        esac
        jsonl "$f" decode_binance "$p" "shared-$(basename "$f" .jsonl)"
    done
    for f in "$SHARED"/okx-*.jsonl; do
        [[ -e $f ]] || continue
        case $(basename "$f") in
            okx-spot.jsonl) p=0 ;; *inverse*) p=2 ;; *) p=1 ;;
        esac
        jsonl "$f" decode_okx "$p" "shared-$(basename "$f" .jsonl)"
    done
else
    echo "seed.sh: $SHARED absent; fixture seeds only" >&2
fi

for d in "$C"/*/; do
    printf 'seed.sh: %-16s %5d files\n' "$(basename "$d")" "$(find "$d" -maxdepth 1 -type f | wc -l)" >&2
done
