#!/usr/bin/env bash
# Draws the app icons (ImageMagick): a violet rounded square with a white check mark.
# Run by hand when the design changes; the PNGs are committed.
set -euo pipefail
cd "$(dirname "$0")/../splunk_app/static"
draw() { # size, radius, stroke width, check-mark points
  /usr/bin/convert -size "$1x$1" xc:none \
    -fill '#4B2BD6' -draw "roundrectangle 0,0 $(( $1 - 1 )),$(( $1 - 1 )) $2,$2" \
    -fill none -stroke white -strokewidth "$3" \
    -draw "stroke-linecap round stroke-linejoin round polyline $4" \
    -depth 8 -strip -define png:exclude-chunks=date,time "$5"
}
draw 36 7 3.5 "9.5,18.5 15.5,24.5 26.5,12.5" appIcon.png
draw 72 14 7 "19,37 31,49 53,25" appIcon_2x.png
