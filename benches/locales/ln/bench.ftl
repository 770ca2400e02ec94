# Benchmark survey (flows: benches/flows/bench.toml), texts of the harness's flow-strings.json (ln).
consent = Ankete ya makambo. Ondimi kosala yango?
consent-invalid = Kopona ya mabe.
yes_no-yes = Iyo
yes_no-no = Te
consent_no = Matondo. Tokomonana.

incident_type = Lolenge ya likambo:
incident_type-invalid = Kopona ya mabe.
incident_type-flood = Mpela
incident_type-fire = Moto
incident_type-armed_conflict = Bitumba
incident_type-epidemic = Bokono
incident_type-accident = Likama
incident_type-theft = Boyibi
incident_type-drought = Bokauki
incident_type-other = Mosusu

description = Lobela likambo:

people = Bato boni bazwi likama? (0-9999)
people-invalid = Motuya ya mabe.

thanks = Matondo! Likambo: { $incident_type }. Bato: { $people }.
