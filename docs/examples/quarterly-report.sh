#!/bin/sh
# The previous fiscal quarter (the federal fiscal year starts on October 1).
m=$(date +%-m); y=$(date +%Y)
case $m in 10|11|12) fy=$((y + 1)); q=1 ;; 1|2|3) fy=$y; q=2 ;; 4|5|6) fy=$y; q=3 ;; *) fy=$y; q=4 ;; esac
q=$((q - 1)); if [ "$q" -eq 0 ]; then q=4; fy=$((fy - 1)); fi
exec cx-survey report --fiscal-year "$fy" --quarter "$q" --out "${REPORTS:-/var/lib/cx-survey/reports}/FY${fy}-Q${q}"
