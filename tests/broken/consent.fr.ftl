mine = Quelle mine ?
agree = Acceptez-vous de repondre ?
agree-yes = Oui
agree-no = Non
age = Votre age ?
fin = Merci.
