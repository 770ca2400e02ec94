# Kufatilia: koyebisa likambo na esika ya mine, nkombo te (Lingala).
consent = Sauti: yebisa likambo ya esika ya mine. Nkombo na yo ekoyebana te. Ondimi?
yes_no-yes = Iyo
yes_no-no = Te

incident = Olingi koyebisa nini?
incident-accident = Likama
incident-violence = Mobulu
incident-illegal_tax = Mpako ya kobotola
incident-fraud = Bokosi
incident-armed_group = Bato ya mandoki
incident-forced_labour = Mosala ya bowumbu
incident-child_labour = Mosala ya bana
incident-roadblock = Barrière na nzela
incident-other = Mosusu

incident_other = Yebisa likambo yango na mokuse:

when = Likambo esalemaki ntango nini?
when-today = Lelo
when-yesterday = Lobi eleki
when-this_week = Poso oyo
when-this_month = Sanza oyo
when-earlier = Liboso ya sanza oyo

date = Mokolo nini? Koma mokolo, sanza, mobu. Ndakisa 25032026

province = Na etuka (province) nini?
province-south_kivu = Kivu ya Sudi
province-north_kivu = Kivu ya Nordi
province-ituri = Ituri
province-maniema = Maniema
province-tanganyika = Tanganyika
province-haut_katanga = Haut-Katanga
province-lualaba = Lualaba
province-other = Mosusu

province_other = Nkombo ya etuka?
territory = Teritware to engumba nini?
site = Nkombo ya esika ya mine?
people = { $incident }: bato boni bazwaki mpasi? (0 soki moto te)
contact = Société civile ekoki kobenga yo mpo na kolanda likambo?

thanks = Matondi. Toyambi sango na yo. Nkombo na yo ekobombama. Code: { $receipt }
declined = Malamu, matondi. Okoki kozonga ntango nyonso.
