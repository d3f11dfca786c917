"""Portfolio: balances valued in the quote currency, net worth with its breakdowns, and its history. Computed
from stored state only: no outbound call happens on a request."""
