"""How uva_reference.csv was made (not run by the tests): simglucose 0.2.11's own T1DPatient,
imported without its gym environment, stepped minute by minute.

Each patient gets its steady basal rate throughout, a 50 g meal announced at minute 60
(eaten at 5 g/min, so over minutes 60-69) and, at minute 60, a bolus of 50/CR units
delivered over that one minute. Blood glucose (plasma, mg/dL) and the subcutaneous
glucose are written every 5 minutes for 8 hours.

    pip download --no-deps simglucose==0.2.11 && unzip simglucose-*.whl -d sg
    echo > sg/simglucose/__init__.py   # skip the gym import
    PYTHONPATH=sg python tests/health/data/make_uva_reference.py > tests/health/data/uva_reference.csv
"""

import pandas as pd
from simglucose.patient.t1dpatient import Action, T1DPatient

PATIENTS = ("adolescent#003", "adult#001", "adult#007", "child#005")

if __name__ == "__main__":
    quest = pd.read_csv(__import__("simglucose").__path__[0] + "/params/Quest.csv").set_index("Name")
    print("patient,minute,glucose,cgm")
    for name in PATIENTS:
        p = T1DPatient.withName(name)
        basal = p._params.u2ss * p._params.BW / 6000  # U/min
        bolus = 50.0 / quest.loc[name, "CR"]
        for minute in range(8 * 60 + 1):
            if minute % 5 == 0:
                print(f"{name},{minute},{p.state[3] / p._params.Vg:.6f},{p.state[12] / p._params.Vg:.6f}")
            meal = 50.0 if minute == 60 else 0.0
            insulin = basal + (bolus if minute == 60 else 0.0)
            p.step(Action(CHO=meal, insulin=insulin))
