# Where the amalgam is burnt, as a researcher wrote it.
burn = Où brûlez-vous l'amalgame de mercure apres le lavage ?
burn-home = A la maison
burn-shed = Dans un abri
burn-river = Pres de la riviere
burn-camp = Au campement
burn-market = Au marche
burn-other = Ailleurs
fin = Merci.
