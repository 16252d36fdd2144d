# The simulated demo dataset, written in the exact competition layout, when data_dir is null.
# One job per observation (its signal and calibration maps), one for the top-level tables.

if SIMULATION is not None:
    # One simulation job per observation; 2025 folders hold a visit per file name.
    SIMULATED_OBSERVATION = (
        "{split}/{planet}/{instrument}_{visit}"
        if EDITION == 2025
        else "{split}/{planet}/{instrument}"
    )

    rule simulate_observation:
        output:
            signal=_dataset_pattern(layout.signal_file, "{instrument}"),
            calibration=[
                _dataset_pattern(layout.calibration_file, "{instrument}", kind)
                for kind in CALIBRATION_MAPS
            ],
            # The observation's truth sidecar, with cosmic rays or saturation (simulate.truth).
            truth=(
                [
                    str(
                        simulate.observation_truth_file(
                            DATA_DIR,
                            EDITION,
                            "{split}",
                            "{planet}",
                            "{visit}",
                            "{instrument}",
                        )
                    )
                ]
                if simulate.observation_truth_wanted(SIMULATION)
                else []
            ),
        log:
            paths.log("simulate", SIMULATED_OBSERVATION),
        benchmark:
            paths.benchmark("simulate", SIMULATED_OBSERVATION)
        conda:
            "../envs/arielcal.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            simulation=config["simulation"],
        message:
            "Simulating {wildcards}"
        script:
            "../scripts/simulate.py"

    rule simulate_tables:
        output:
            [os.path.join(DATA_DIR, name) for name in simulate.table_files(SIMULATION)],
        log:
            paths.log("simulate", "tables"),
        benchmark:
            paths.benchmark("simulate", "tables")
        conda:
            "../envs/arielcal.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=5,
        params:
            simulation=config["simulation"],
        message:
            "Simulating the top-level tables"
        script:
            "../scripts/simulate.py"
