# all: every directive in units/directives/, each measured alone.
*
