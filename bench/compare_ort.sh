#!/bin/sh
# Wrapper: see bench/compare_ort.py --help
exec /usr/bin/python3 "$(dirname "$0")/compare_ort.py" "$@"
