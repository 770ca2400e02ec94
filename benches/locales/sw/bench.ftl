# Benchmark survey (flows: benches/flows/bench.toml), texts of the harness's flow-strings.json (sw).
consent = Utafiti wa matukio. Unakubali kushiriki?
consent-invalid = Chaguo si sahihi.
yes_no-yes = Ndiyo
yes_no-no = Hapana
consent_no = Asante. Kwaheri.

incident_type = Aina ya tukio:
incident_type-invalid = Chaguo si sahihi.
incident_type-flood = Mafuriko
incident_type-fire = Moto
incident_type-armed_conflict = Vita
incident_type-epidemic = Mlipuko wa ugonjwa
incident_type-accident = Ajali
incident_type-theft = Wizi
incident_type-drought = Ukame
incident_type-other = Nyingine

description = Eleza tukio:

people = Watu wangapi wameathirika? (0-9999)
people-invalid = Namba si sahihi.

thanks = Asante! Tukio: { $incident_type }. Watu: { $people }.
