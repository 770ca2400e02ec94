# Kufatilia: signalement anonyme d'un incident sur un site minier (francais).
consent = Sauti: signalez un incident sur un site minier. C'est anonyme, sans votre nom. Acceptez-vous?
yes_no-yes = Oui
yes_no-no = Non

incident = Que voulez-vous signaler?
incident-accident = Accident
incident-violence = Violence
incident-illegal_tax = Taxe illégale
incident-fraud = Fraude
incident-armed_group = Groupe armé
incident-forced_labour = Travail forcé
incident-child_labour = Travail d'enfants
incident-roadblock = Barrière routière
incident-other = Autre

incident_other = Décrivez l'incident en bref:

when = Quand cela s'est-il passé?
when-today = Aujourd'hui
when-yesterday = Hier
when-this_week = Cette semaine
when-this_month = Ce mois-ci
when-earlier = Avant ce mois

date = Date (JJMMAAAA, ex: 25032026)?

province = Dans quelle province?
province-south_kivu = Sud-Kivu
province-north_kivu = Nord-Kivu
province-ituri = Ituri
province-maniema = Maniema
province-tanganyika = Tanganyika
province-haut_katanga = Haut-Katanga
province-lualaba = Lualaba
province-other = Autre

province_other = Nom de la province?
territory = Territoire ou ville?
site = Nom du site minier?
people = { $incident }: combien de personnes touchées? (0 si aucune)
contact = La société civile peut-elle vous appeler pour le suivi?

thanks = Merci. Votre signalement est enregistré, votre identité reste protégée. Code: { $receipt }
declined = D'accord, merci. Vous pouvez revenir quand vous voulez.
