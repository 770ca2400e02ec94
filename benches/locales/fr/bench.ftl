# Benchmark survey (flows: benches/flows/bench.toml), texts of the harness's flow-strings.json (fr).
consent = Enquête incidents. Acceptez-vous de participer ?
consent-invalid = Choix invalide.
yes_no-yes = Oui
yes_no-no = Non
consent_no = Merci. Au revoir.

incident_type = Type d'incident :
incident_type-invalid = Choix invalide.
incident_type-flood = Inondation
incident_type-fire = Incendie
incident_type-armed_conflict = Conflit armé
incident_type-epidemic = Épidémie
incident_type-accident = Accident
incident_type-theft = Vol
incident_type-drought = Sécheresse
incident_type-other = Autre

description = Décrivez l'incident :

people = Combien de personnes touchées ? (0-9999)
people-invalid = Nombre invalide.

thanks = Merci ! Incident : { $incident_type }. Personnes : { $people }.
