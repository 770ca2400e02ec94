# Connectivity: utafiti kuhusu simu na intaneti kwenye migodi (Kiswahili).
consent = Utafiti: simu na intaneti migodini. Bila jina, dakika 2. Unakubali?
yes_no-yes = Ndiyo
yes_no-no = Hapana

role = Kazi yako mgodini ni gani?
role-digger = Mchimbaji
role-transporter = Mbebaji
role-trader = Mfanyabiashara
role-processor = Mwoshaji wa madini
role-site_manager = Msimamizi/PDG
role-other = Nyingine

owns_phone = Una simu ya mkononi?

phone_type = Simu yako ni ya aina gani?
phone_type-basic = Ya kawaida (simu, SMS)
phone_type-feature = Ya vitufe na intaneti
phone_type-smartphone = Smartphone (ya kugusa)

coverage = Mtandao wa simu mgodini ukoje?
coverage-good = Mzuri
coverage-weak = Dhaifu
coverage-none = Hakuna mtandao

mobile_money = Unatumia pesa kwa simu (mobile money)?
mobile_money-often = Mara nyingi
mobile_money-sometimes = Wakati mwingine
mobile_money-never = Sijawahi

services = Unatumia simu kwa nini? Andika namba, mfano: 1 3
services-calls = Kupiga simu
services-sms = SMS
services-mobile_money = Pesa kwa simu
services-internet = Intaneti
services-radio = Redio
services-social_media = Mitandao ya kijamii

internet_where = Unatumia intaneti wapi?
internet_where-at_site = Mgodini
internet_where-in_town = Mjini
internet_where-both = Sehemu zote mbili

spending = Unatumia pesa ngapi kwa simu kila mwezi?
spending-none = Hakuna
spending-under_1 = Chini ya 1 USD
spending-1_to_5 = 1 hadi 5 USD
spending-5_to_10 = 5 hadi 10 USD
spending-over_10 = Zaidi ya 10 USD

report_by_phone = Ungependa kuripoti matatizo kwa simu?
report_by_phone-yes = Ndiyo
report_by_phone-maybe = Labda
report_by_phone-no = Hapana

thanks = Asante kwa majibu yako!
declined = Sawa, asante. Siku njema.
