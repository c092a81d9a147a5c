"""What a generation will cost, worked out before anything is sent (ark-api.md §6.3-6.4).

    tokens = ⌊width × height / 1024 × frames⌋           (frames = 24 × seconds, + 1 on 2.0; see `tokens`)
    cost   = tokens × price per million / 1 000 000      (price from the price file, per currency)

The pixel size comes from the model catalog (§3.3), so the published 1.0 figures come out exactly:
864×480 for 5 s is 48 600 tokens, 1248×704 is 102 960 and 1920×1088 is 244 800. Where the request
leaves the size or length to the model (`ratio: adaptive`, `duration: -1`) the estimate takes the
largest the model could choose, and says so in `Estimate.notes`.

Prices live in an editable data file (`prices.yaml`, shipped with the package; a user copy is named
by `SEEDANCE_PRICES_FILE`), one currency per table: CNY for Volcengine ids, USD for BytePlus ids.

Modules: `tokens` (the one token formula), `prices` (the price file), `estimate` (one request or
spec), `report` (a spec file or manifest, and its table). No network and no Prefect here:
`seedance estimate` runs offline.
"""
