"""Pure billing rules: plans, overage tiers, periods, trial. No I/O."""
