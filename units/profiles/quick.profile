# quick: the make bench default — a handful of directives that cover the three enforcement
# mechanisms (mount namespace, seccomp, user/ids), the two calibration controls, and the seed's set
# measured together as one variant.
protect-system-strict
private-tmp-yes
system-call-filter-system-service
restrict-address-families-inet-unix
cpu-quota-50
calibration-work-2us
combine seed-lunchd
