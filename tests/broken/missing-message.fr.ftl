consent = D'accord?
yes_no-yes = Oui
yes_no-no = Non
people = Combien?
fin = Merci
