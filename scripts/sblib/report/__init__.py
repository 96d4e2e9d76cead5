"""The report of a results directory (core.write_report), in reading order:

  core.py       write_report: analyse, plot, assemble the blocks, write the files
  document.py   the block model (h, para, table, ...) and its two renderers,
                Markdown and self-contained HTML
  fmt.py        figures as the report writes them (changes, CPU times, verdicts)
  variants.py   which variants go where: calibration controls, the combined
                hardened unit, the rows that rank, the Pareto frontier
  verdict.py    the first section: what the run found
  sections.py   costs, calibration, exposure, start-up, latency, compatibility,
                sandbox evidence
  method.py     noise floor, placement, method and environment
  startup.py    `sandbench startup`'s measurement (startup.json)
  plots.py      the plots, drawn by gnuplot
"""
