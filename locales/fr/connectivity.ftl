# Connectivity: enquete de recherche sur le telephone et internet sur les sites miniers (francais).
consent = Étude: téléphone et internet sur les sites miniers. Anonyme, 2 minutes. Acceptez-vous?
yes_no-yes = Oui
yes_no-no = Non

role = Quel est votre travail sur le site?
role-digger = Creuseur
role-transporter = Transporteur
role-trader = Négociant
role-processor = Laveur/transformateur
role-site_manager = Chef de chantier/PDG
role-other = Autre

owns_phone = Avez-vous un téléphone?

phone_type = Quel type de téléphone?
phone_type-basic = Simple (appels, SMS)
phone_type-feature = Clavier avec internet
phone_type-smartphone = Smartphone (écran tactile)

coverage = Le réseau mobile sur votre site?
coverage-good = Bon
coverage-weak = Faible
coverage-none = Pas de réseau

mobile_money = Utilisez-vous le mobile money?
mobile_money-often = Souvent
mobile_money-sometimes = Parfois
mobile_money-never = Jamais

services = Usages du téléphone? Tapez les numéros, ex: 1 3
services-calls = Appels
services-sms = SMS
services-mobile_money = Mobile money
services-internet = Internet
services-radio = Radio
services-social_media = Réseaux sociaux

internet_where = Où utilisez-vous internet?
internet_where-at_site = Sur le site
internet_where-in_town = En ville
internet_where-both = Les deux

spending = Combien dépensez-vous par mois pour le téléphone?
spending-none = Rien
spending-under_1 = Moins de 1 USD
spending-1_to_5 = 1 à 5 USD
spending-5_to_10 = 5 à 10 USD
spending-over_10 = Plus de 10 USD

report_by_phone = Signaleriez-vous un problème par téléphone?
report_by_phone-yes = Oui
report_by_phone-maybe = Peut-etre
report_by_phone-no = Non

thanks = Merci pour vos réponses!
declined = D'accord, merci. Bonne journée.
