# Connectivity: mituna mpo na telefone mpe internet na bisika ya mine (Lingala).
consent = Mituna: telefone mpe internet na bisika ya mine. Nkombo te, miniti 2. Ondimi?
yes_no-yes = Iyo
yes_no-no = Te

role = Osalaka mosala nini na esika ya mine?
role-digger = Motimoli (creuseur)
role-transporter = Momemi (transporteur)
role-trader = Mosombi/moteki
role-processor = Mosukoli (laveur)
role-site_manager = Mokonzi ya esika/PDG
role-other = Mosusu

owns_phone = Ozali na telefone?

phone_type = Telefone na yo ya lolenge nini?
phone_type-basic = Ya pete (kobenga, SMS)
phone_type-feature = Ya clavier na internet
phone_type-smartphone = Smartphone

coverage = Réseau ezali ndenge nini na esika ya mine?
coverage-good = Malamu
coverage-weak = Moke
coverage-none = Réseau ezali te

mobile_money = Osalelaka mobile money?
mobile_money-often = Mbala mingi
mobile_money-sometimes = Ntango mosusu
mobile_money-never = Ata mbala moko te

services = Osalelaka telefone mpo na nini? Koma ba nimero, ndakisa: 1 3
services-calls = Kobenga
services-sms = SMS
services-mobile_money = Mobile money
services-internet = Internet
services-radio = Radio
services-social_media = WhatsApp, Facebook

internet_where = Osalelaka internet wapi?
internet_where-at_site = Na esika ya mine
internet_where-in_town = Na engumba
internet_where-both = Bisika nyonso mibale

spending = Obimisaka mbongo boni na sanza mpo na telefone?
spending-none = Eloko te
spending-under_1 = Na nse ya 1 USD
spending-1_to_5 = 1 kino 5 USD
spending-5_to_10 = 5 kino 10 USD
spending-over_10 = Koleka 10 USD

report_by_phone = Okolinga koyebisa mikakatano na telefone?
report_by_phone-yes = Iyo
report_by_phone-maybe = Mbala mosusu
report_by_phone-no = Te

thanks = Matondi mpo na biyano na yo!
declined = Malamu, matondi. Mokolo malamu.
