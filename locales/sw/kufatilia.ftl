# Kufatilia: ripoti ya siri ya tukio kwenye mgodi (Kiswahili).
consent = Sauti: ripoti tukio la mgodini. Ni siri, bila jina lako. Unakubali?
yes_no-yes = Ndiyo
yes_no-no = Hapana

incident = Unataka kuripoti nini?
incident-accident = Ajali
incident-violence = Vurugu
incident-illegal_tax = Ushuru haramu
incident-fraud = Udanganyifu
incident-armed_group = Kikundi cha silaha
incident-forced_labour = Kazi ya kulazimishwa
incident-child_labour = Kazi ya watoto
incident-roadblock = Kizuizi barabarani
incident-other = Nyingine

incident_other = Eleza tukio kwa ufupi:

when = Tukio lilitokea lini?
when-today = Leo
when-yesterday = Jana
when-this_week = Wiki hii
when-this_month = Mwezi huu
when-earlier = Kabla ya mwezi huu

date = Tarehe? Andika siku mwezi mwaka, mfano 25032026

province = Katika jimbo gani?
province-south_kivu = Kivu ya Kusini
province-north_kivu = Kivu ya Kaskazini
province-ituri = Ituri
province-maniema = Maniema
province-tanganyika = Tanganyika
province-haut_katanga = Haut-Katanga
province-lualaba = Lualaba
province-other = Nyingine

province_other = Jina la jimbo?
territory = Eneo (territoire) au mji gani?
site = Jina la mgodi?
people = { $incident }: watu wangapi waliathiriwa? (0 kama hakuna)
contact = Shirika la kiraia linaweza kukupigia simu kufuatilia?

thanks = Asante. Ripoti yako imepokelewa. Jina lako linabaki siri. Namba: { $receipt }
declined = Sawa, asante. Unaweza kurudi wakati wowote.
