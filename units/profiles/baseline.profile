# baseline: the unit as shipped, no directive added. Every run measures it (twice: the A/A control).
